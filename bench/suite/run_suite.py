#!/usr/bin/env python3
"""The MIPS dataset suite: every method on every dataset, and the worst case first.

Datasets: `ra gen` with its knobs spread wide (seeds, head dims 64/128, scattered topics,
RoPE base 500000, strong key-only variance, no sink), the Gaussian control, the real MiniLM head
(../shared/data/minilm) and stories260K (a real Llama's layer 4, KV head 1, 2048 tokens).
Methods: ours (the query-guided graph and partitions + 4-bit codes), hnswlib, faiss HNSW and IVF (in one `ra bench mips` run each, same process,
one search thread) and ScaNN (PyPI `scann`, its numpy API, one query at a time, on the same
files). Each sweep runs until recall@k reaches 0.995 or stops gaining.

For each dataset and method: keys scored (% of n) and QPS at recall@k 0.90 / 0.95 / 0.99 (the
fastest sweep point that reaches it), the best recall, build seconds and memory. ScaNN's work is
its centroids + its quantized (4-bit) scores + its exact reorder, counted like exact scores.

Usage: run_suite.py [--n 32768] [--ra build/tools/ra] [--out bench/results/suite]
                    [--datasets a,b] [--skip scann,hnswlib,...]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
TARGETS = (0.90, 0.95, 0.99)


def gen_sets(n):
    """name -> `ra gen` arguments (training queries = every prefill position)."""
    base = ["--n", str(n), "--train-queries", str(n), "--queries", "1000"]
    return {
        "gen-default-s1": base + ["--seed", "1"],
        "gen-default-s2": base + ["--seed", "2"],
        "gen-dim64-s3": base + ["--seed", "3", "--dim", "64"],
        "gen-scattered": base + ["--seed", "4", "--topics", "4096", "--segment", "8"],
        "gen-rope500k": base + ["--seed", "5", "--rope-theta", "500000"],
        "gen-llama31": base + ["--seed", "8", "--rope-theta", "500000", "--rope-scale", "8"],
        "gen-keyvar": base + ["--seed", "6", "--key-bias", "24", "--outlier-scale", "12",
                              "--key-gain-min", "0.0005", "--no-sink"],
        "gaussian": ["--kind", "gaussian", "--n", str(n), "--train-queries", "10000",
                     "--queries", "1000", "--seed", "7"],
    }


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def prepare(name, args, ra, cache):
    """Returns {keys, train, queries, gt (or None)} file paths for a dataset."""
    d = os.path.join(cache, name)
    if name == "minilm":
        m = os.path.join(SHARED, "minilm")
        return dict(keys=f"{m}/keys.npy", train=f"{m}/train_queries.npy",
                    queries=f"{m}/test_queries.npy", gt=f"{m}/gt_k100.ibin")
    if name == "stories260K":
        os.makedirs(d, exist_ok=True)
        s = os.path.join(SHARED, "stories260K", "ctx2048")
        layer, kv = 4, 1
        keys = np.load(f"{s}/keys.npy")[layer, kv]                     # (2048, 8)
        q = np.load(f"{s}/queries.npy")[layer, 2 * kv:2 * kv + 2]      # the GQA group's heads
        test_pos = np.arange(1792, 2048)
        np.save(f"{d}/keys.npy", np.ascontiguousarray(keys, dtype=np.float32))
        np.save(f"{d}/train.npy", np.ascontiguousarray(q[:, :1792].reshape(-1, q.shape[-1]), dtype=np.float32))
        np.save(f"{d}/queries.npy", np.ascontiguousarray(q[:, test_pos].reshape(-1, q.shape[-1]), dtype=np.float32))
        return dict(keys=f"{d}/keys.npy", train=f"{d}/train.npy", queries=f"{d}/queries.npy", gt=None)
    if not os.path.exists(os.path.join(d, "gt.ibin")):
        run([ra, "gen", *args, "--out", d], stdout=subprocess.DEVNULL)
    return dict(keys=f"{d}/keys.fbin", train=f"{d}/train_queries.fbin",
                queries=f"{d}/queries.fbin", gt=f"{d}/gt.ibin")


def read_matrix(path):
    if path.endswith(".npy"):
        return np.load(path).astype(np.float32)
    with open(path, "rb") as f:
        rows, cols = np.frombuffer(f.read(8), dtype=np.uint32)
        return np.frombuffer(f.read(), dtype=np.float32).reshape(rows, cols)


def read_ibin(path):
    with open(path, "rb") as f:
        rows, cols = np.frombuffer(f.read(8), dtype=np.uint32)
        return np.frombuffer(f.read(), dtype=np.int32).reshape(rows, cols)


def exact_gt(keys, queries, k):
    s = queries.astype(np.float64) @ keys.astype(np.float64).T
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def scann_method(keys, queries, gt, k, target=0.995):
    os.environ.setdefault("GLOG_minloglevel", "2")  # ScaNN logs each build step otherwise
    import scann
    n = keys.shape[0]
    leaves = int(min(2000, max(16, round(2.8 * math.sqrt(n)))))
    t0 = time.perf_counter()
    builder = scann.scann_ops_pybind.builder(keys, k, "dot_product")
    searcher = (builder.tree(num_leaves=leaves, num_leaves_to_search=8, training_sample_size=n)
                .score_ah(2, anisotropic_quantization_threshold=0.2).reorder(16 * k).build())
    build_s = time.perf_counter() - t0
    rows, truth = [], [set(r[:k].tolist()) for r in gt]
    for reorder in (k, 2 * k, 4 * k, 8 * k, 16 * k):
        for search in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
            if search > leaves:
                break
            t0 = time.perf_counter()
            found = [searcher.search(q, final_num_neighbors=k, pre_reorder_num_neighbors=reorder,
                                     leaves_to_search=search)[0] for q in queries]
            wall = time.perf_counter() - t0
            recall = float(np.mean([len(truth[i] & set(found[i].tolist())) / k for i in range(len(found))]))
            # Work: the centroids, the quantized scores of the searched leaves (about
            # search/leaves of the keys), the exact reorder.
            work = leaves + n * search / leaves + reorder
            rows.append(dict(param=f"leaves={search} reorder={reorder}", recall=recall,
                             scored_fraction=work / n, qps=len(queries) / wall))
            if recall >= target:
                break
    return dict(name="ScaNN (tree + 4-bit AH + reorder)",
                settings=f"num_leaves={leaves} score_ah(2, threshold 0.2) training_sample={n}",
                build_s=build_s, memory_bytes=None, rows=rows)


OURS = ("query-guided graph (ours)", "partitions + 4-bit codes (ours)")


def summarize(method):
    out = dict(name=method["name"], build_s=method["build_s"], memory_bytes=method.get("memory_bytes"),
               best_recall=max(r["recall"] for r in method["rows"]))
    for t in TARGETS:
        ok = [r for r in method["rows"] if r["recall"] >= t]
        best = max(ok, key=lambda r: r["qps"]) if ok else None
        out[f"at_{t:.2f}"] = None if best is None else dict(
            param=best["param"], scored_fraction=best["scored_fraction"], qps=best["qps"])
    return out


def fmt_at(a):
    return "-" if a is None else f"{100 * a['scored_fraction']:.2f}% / {a['qps']:.0f}"


def markdown(results):
    lines = []
    for ds, methods in results.items():
        lines.append(f"### {ds} (n {methods['n']}, dim {methods['dim']}, k {methods['k']})\n")
        lines.append("| method | @0.90 keys / QPS | @0.95 keys / QPS | @0.99 keys / QPS | best recall | build s | MiB |")
        lines.append("|---|---|---|---|---|---|---|")
        for m in methods["methods"]:
            mem = "-" if m["memory_bytes"] is None else f"{m['memory_bytes'] / 2**20:.1f}"
            lines.append(f"| {m['name']} | {fmt_at(m['at_0.90'])} | {fmt_at(m['at_0.95'])} | "
                         f"{fmt_at(m['at_0.99'])} | {m['best_recall']:.4f} | {m['build_s']:.1f} | {mem} |")
        lines.append("")
    # The worst case: each of our methods, and the faster of the two per dataset (picked by
    # this benchmark, not by the library), against the best peer at 0.95.
    lines.append("### Worst case over the suite (recall@k 0.95)\n")
    lines.append("| dataset | graph (ours): keys / QPS | partitions (ours): keys / QPS | best peer at 0.95 | its keys / QPS "
                 "| graph / peer | partitions / peer | faster of ours / peer |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for ds, methods in results.items():
        by_name = {m["name"]: m for m in methods["methods"]}
        graph, part = by_name.get(OURS[0]), by_name.get(OURS[1])
        peers = [m for m in methods["methods"] if m["name"] not in OURS and not m["name"].startswith("flat")
                 and m["at_0.95"] is not None]
        peer = max(peers, key=lambda m: m["at_0.95"]["qps"]) if peers else None

        def ratio(mine):
            if peer is None or mine is None or mine["at_0.95"] is None:
                return None
            return mine["at_0.95"]["qps"] / peer["at_0.95"]["qps"]
        rs = [r for r in (ratio(graph), ratio(part)) if r is not None]
        fmt_r = lambda r: "-" if r is None else f"{r:.2f}x"
        cell = lambda m: "-" if m is None else fmt_at(m["at_0.95"])
        lines.append(f"| {ds} | {cell(graph)} | {cell(part)} | {peer['name'] if peer else '-'} | "
                     f"{fmt_at(peer['at_0.95']) if peer else '-'} | {fmt_r(ratio(graph))} | {fmt_r(ratio(part))} | "
                     f"{fmt_r(max(rs) if rs else None)} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32768, help="keys of each generated dataset")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--ra", default=os.path.join(ROOT, "build", "tools", "ra"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "suite"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "build", "suite_data"))
    ap.add_argument("--datasets", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--skip", default="", help="methods not to run: scann and those of ra bench mips")
    a = ap.parse_args()
    sets = gen_sets(a.n)
    sets["minilm"] = None
    sets["stories260K"] = None
    chosen = [d for d in a.datasets.split(",") if d] or list(sets)
    skip = [s for s in a.skip.split(",") if s]
    os.makedirs(a.out, exist_ok=True)
    results = {}
    for name in chosen:
        files = prepare(name, sets[name], a.ra, a.cache)
        keys, queries = read_matrix(files["keys"]), read_matrix(files["queries"])
        k = min(a.k, keys.shape[0] // 20) if name == "stories260K" else a.k
        gt = read_ibin(files["gt"])[:, :k] if files["gt"] else exact_gt(keys, queries, k)
        mips_json = os.path.join(a.out, f"mips_{name}.json")
        cmd = [a.ra, "bench", "mips", "--keys", files["keys"], "--train-queries", files["train"],
               "--queries", files["queries"], "--k", str(k), "--threads", "1", "--json", mips_json]
        if files["gt"]:
            cmd += ["--gt", files["gt"]]
        ra_skip = [s for s in skip if s != "scann"]
        if ra_skip:
            cmd += ["--skip", ",".join(ra_skip)]
        run(cmd, stdout=subprocess.DEVNULL)
        with open(mips_json) as f:
            report = json.load(f)
        methods = report["methods"]
        if "scann" not in skip:
            methods.append(scann_method(keys, queries, gt, k))
        results[name] = dict(n=report["n"], dim=report["dim"], k=k,
                             methods=[summarize(m) for m in methods], raw=methods)
        with open(os.path.join(a.out, "suite.json"), "w") as f:
            json.dump(results, f, indent=1)
    md = markdown(results)
    with open(os.path.join(a.out, "suite.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
