"""Builds a query-guided index over attention keys and compares it with faiss and hnswlib when
they are installed (pip install faiss-cpu hnswlib): recall@10 and keys scored at a few beams.

    python3 tools/python/examples/compare_with_peers.py --keys keys.fbin --train train_queries.fbin \\
        --queries queries.fbin          # files from `ra gen --kind attention --out DIR`
Without arguments it makes a small out-of-distribution set itself.
"""
import argparse
import time

import numpy as np

import retrieval_attention as ra


def read_fbin(path):
    n, d = np.fromfile(path, dtype=np.uint32, count=2)
    return np.fromfile(path, dtype=np.float32, offset=8).reshape(n, d)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keys"), p.add_argument("--train"), p.add_argument("--queries")
    a = p.parse_args()
    if a.keys:
        keys, train, queries = read_fbin(a.keys), read_fbin(a.train), read_fbin(a.queries)
    else:
        rng = np.random.default_rng(0)
        keys = (rng.standard_normal((20000, 64)) * np.linspace(0.1, 2, 64)).astype(np.float32)
        shift = np.r_[np.full(8, 3.0), np.zeros(56)].astype(np.float32)
        train = (rng.standard_normal((10000, 64)) + shift).astype(np.float32)
        queries = (rng.standard_normal((500, 64)) + shift).astype(np.float32)
    k = 10
    truth, _ = ra.FlatIndex(keys).search(queries, k=k)
    t0 = time.perf_counter()
    index = ra.GraphIndex.build(keys, train, degree=32)
    print(f"query-guided graph: built in {time.perf_counter() - t0:.1f} s")
    for beam in (16, 32, 64, 128):
        t0 = time.perf_counter()
        ids, _, stats = index.search(queries, k=k, beam=beam, threads=1, return_stats=True)
        qps = len(queries) / (time.perf_counter() - t0)
        print(f"  beam {beam:4d}: recall@{k} {ra.recall(ids, truth, k):.3f}, keys scored "
              f"{stats[:, 0].mean() / len(keys):.2%}, {qps:.0f} QPS")
    try:
        import hnswlib
        h = hnswlib.Index(space="ip", dim=keys.shape[1])
        h.init_index(max_elements=len(keys), M=32, ef_construction=200)
        h.add_items(keys)
        for ef in (16, 64, 256):
            h.set_ef(ef)
            ids, _ = h.knn_query(queries, k=k)
            print(f"hnswlib ef {ef:4d}: recall@{k} {ra.recall(ids.astype(np.int64), truth, k):.3f}")
    except ImportError:
        print("hnswlib not installed: skipped")
    try:
        import faiss
        nlist = int(4 * np.sqrt(len(keys)))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(keys.shape[1]), keys.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(keys)
        ivf.add(keys)
        for nprobe in (8, 32, 128):
            ivf.nprobe = nprobe
            _, ids = ivf.search(queries, k)
            print(f"faiss IVF nprobe {nprobe:4d}: recall@{k} {ra.recall(ids, truth, k):.3f}")
    except ImportError:
        print("faiss not installed: skipped")


if __name__ == "__main__":
    main()
