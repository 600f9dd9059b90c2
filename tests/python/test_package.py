"""The Python package over the C++ library: results equal the CLI's on the same files, zero-copy
is real, strided and float16 inputs work, errors are exceptions, the GIL is released."""
import json
import os
import subprocess
import threading
import time

import numpy as np
import pytest

import retrieval_attention as ra

RA_BIN = os.environ.get("RA_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tools", "ra"))
needs_cli = pytest.mark.skipif(not os.path.exists(RA_BIN), reason="the ra program is not built (set RA_BIN)")


def read_fbin(path):
    n, d = np.fromfile(path, dtype=np.uint32, count=2)
    return np.fromfile(path, dtype=np.float32, offset=8).reshape(n, d)


def read_ibin(path):
    n, k = np.fromfile(path, dtype=np.uint32, count=2)
    return np.fromfile(path, dtype=np.int32, offset=8).reshape(n, k)


def ood_data(n=3000, d=32, seed=0):
    """Keys, and queries from a shifted distribution (out of distribution for the keys)."""
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((n, d)).astype(np.float32) * np.linspace(0.2, 2.0, d, dtype=np.float32)
    shift = np.zeros(d, dtype=np.float32)
    shift[:4] = 2.0
    train = (rng.standard_normal((1500, d)) + shift).astype(np.float32)
    queries = (rng.standard_normal((100, d)) + shift).astype(np.float32)
    return keys, train, queries


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if not os.path.exists(RA_BIN):
        pytest.skip("the ra program is not built (set RA_BIN)")
    out = tmp_path_factory.mktemp("gen")
    subprocess.run([RA_BIN, "gen", "--kind", "attention", "--n", "4000", "--dim", "32", "--queries", "100",
                    "--train-queries", "1000", "--out", str(out)], check=True, capture_output=True)
    return out


def cli_recall(index_path, generated, k, beam, tmp_path):
    out = tmp_path / "q.json"
    subprocess.run([RA_BIN, "query", "--index", str(index_path), "--queries", str(generated / "queries.fbin"),
                    "--gt", str(generated / "gt.ibin"), "--k", str(k), "--beam", str(beam), "--json", str(out)],
                   check=True, capture_output=True)
    return json.loads(out.read_text())["rows"][0]["recall"]


@needs_cli
def test_python_and_cli_agree_on_the_same_files(generated, tmp_path):
    keys, train = read_fbin(generated / "keys.fbin"), read_fbin(generated / "train_queries.fbin")
    queries, truth = read_fbin(generated / "queries.fbin"), read_ibin(generated / "gt.ibin")
    # Built in Python, measured by `ra query`.
    index = ra.GraphIndex.build(keys, train, degree=16, query_knn=32)
    ids, _ = index.search(queries, k=10, beam=32, threads=1)
    py_recall = ra.recall(ids, truth, 10)
    index.save(tmp_path / "py.ra")
    assert cli_recall(tmp_path / "py.ra", generated, 10, 32, tmp_path) == pytest.approx(py_recall, abs=1e-12)
    # Built by `ra build`, loaded and measured in Python.
    subprocess.run([RA_BIN, "build", "--keys", str(generated / "keys.fbin"), "--train-queries",
                    str(generated / "train_queries.fbin"), "--out", str(tmp_path / "cli.ra"), "--degree", "16",
                    "--query-knn", "32"], check=True, capture_output=True)
    loaded = ra.GraphIndex.load(tmp_path / "cli.ra")
    assert loaded.size == 4000 and loaded.dim == 32
    ids2, _ = loaded.search(queries, k=10, beam=32, threads=1)
    assert ra.recall(ids2, truth, 10) == pytest.approx(cli_recall(tmp_path / "cli.ra", generated, 10, 32, tmp_path))


def test_graph_search_finds_the_exact_top_k():
    keys, train, queries = ood_data()
    exact_ids, exact_scores = ra.FlatIndex(keys).search(queries, k=10)
    np.testing.assert_allclose(exact_scores[:, 0], (queries @ keys.T).max(axis=1), rtol=1e-5)
    index = ra.GraphIndex.build(keys, train, degree=16, query_knn=32)
    ids, scores, stats = index.search(queries, k=10, beam=64, return_stats=True)
    assert ids.shape == (100, 10) and ids.dtype == np.int64 and scores.dtype == np.float32
    assert ra.recall(ids, exact_ids, 10) > 0.9
    assert stats.shape == (100, 2) and (stats[:, 0] < 3000).all()  # keys scored: fewer than a scan
    assert index.memory_bytes > 0 and len(index) == 3000
    for knn in ("clustered", "bootstrap"):  # the approximate kNN modes build indexes nearly as good
        other = ra.GraphIndex.build(keys, train, degree=16, query_knn=32, knn=knn)
        assert ra.recall(other.search(queries, k=10, beam=64)[0], exact_ids, 10) > 0.85
    with pytest.raises(ValueError, match="knn must be"):
        ra.GraphIndex.build(keys, train, knn="fast")


def test_zero_copy_is_real_and_copy_is_not_affected():
    keys, train, queries = ood_data()
    ref = ra.GraphIndex.build(keys, train, degree=16, query_knn=32, copy=False)
    own = ra.GraphIndex.build(keys, train, degree=16, query_knn=32, copy=True)
    q = queries[:1]
    ids, scores = ref.search(q, k=1, beam=64)
    top = ids[0, 0]
    keys[top] *= 2.0  # the referencing index reads the caller's memory
    _, scores_ref = ref.search(q, k=1, beam=64)
    _, scores_own = own.search(q, k=1, beam=64)
    assert scores_ref[0, 0] == pytest.approx(2.0 * scores[0, 0], rel=1e-5)
    assert scores_own[0, 0] == pytest.approx(scores[0, 0], rel=1e-6)


def test_strided_and_float16_inputs():
    keys, train, queries = ood_data()
    wide = np.zeros((keys.shape[0], 48), dtype=np.float32)
    wide[:, :32] = keys
    strided = wide[:, :32]  # rows 192 bytes apart: read in place
    a = ra.FlatIndex(keys).search(queries, k=5)
    b = ra.FlatIndex(strided).search(queries, k=5)
    np.testing.assert_array_equal(a[0], b[0])
    half = keys.astype(np.float16)
    h_ids, h_scores = ra.FlatIndex(half).search(queries, k=5)
    exact = queries @ half.astype(np.float32).T
    np.testing.assert_allclose(h_scores[:, 0], exact.max(axis=1), rtol=1e-4)
    f16_index = ra.GraphIndex.build(half, train, degree=16, query_knn=32)
    assert ra.recall(f16_index.search(queries, k=5, beam=64)[0], h_ids, 5) > 0.9
    # float64 and Fortran order are converted once.
    assert ra.FlatIndex(np.asfortranarray(keys.astype(np.float64))).search(queries, k=5)[0].shape == (100, 5)


def test_errors_are_exceptions(tmp_path):
    keys, train, queries = ood_data()
    index = ra.GraphIndex.build(keys, train, degree=16, query_knn=32)
    bad = queries.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        index.search(bad, k=5)
    with pytest.raises(ValueError, match="dimension"):
        index.search(queries[:, :16].copy(), k=5)
    with pytest.raises(ValueError, match="must be in"):
        index.search(queries, k=0)
    (tmp_path / "bad.ra").write_bytes(b"OODXIDX\0" + b"\1" * 100)
    with pytest.raises(ValueError, match="Corruption"):
        ra.GraphIndex.load(tmp_path / "bad.ra")
    with pytest.raises(OSError):
        ra.GraphIndex.load(tmp_path / "missing.ra")


def test_the_gil_is_released_during_search():
    keys, train, _ = ood_data(n=20000)
    rng = np.random.default_rng(5)
    queries = (rng.standard_normal((4000, 32)) + 1.0).astype(np.float32)
    index = ra.GraphIndex.build(keys, train, degree=16, query_knn=32)
    t0 = time.perf_counter()
    index.search(queries, k=10, beam=128, threads=1)
    one = time.perf_counter() - t0
    threads = [threading.Thread(target=index.search, args=(queries,), kwargs=dict(k=10, beam=128, threads=1))
               for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two = time.perf_counter() - t0
    print(f"one search thread {one:.3f} s; two Python threads at once {two:.3f} s ({two / one:.2f}x)")


def test_diagnose_reports_out_of_distribution_queries():
    keys, train, queries = ood_data()
    d = ra.diagnose(keys, np.concatenate([train, queries]))
    assert d["ratio_mean"] > 1.5
    assert 0 < d["frac_keys_mass90"] <= 1


def test_retrieval_layer_equals_exact_attention_when_every_key_is_retrieved():
    rng = np.random.default_rng(2)
    kv_heads, q_heads, capacity, d, tokens = 2, 4, 400, 16, 300
    k = rng.standard_normal((kv_heads, capacity, d)).astype(np.float32)
    v = rng.standard_normal((kv_heads, capacity, d)).astype(np.float32)
    prefill_q = rng.standard_normal((q_heads, tokens, d)).astype(np.float32)
    layer = ra.RetrievalLayer(q_heads, kv_heads, d, top_k=400, beam=400, sink=4, window=16)
    layer.add_sequence(0, k, v, tokens, prefill_q)
    q = rng.standard_normal((q_heads, d)).astype(np.float32)
    o, lse = layer.attend(0, k, v, tokens + 1, q, scale=0.25)
    for h in range(q_heads):
        s = 0.25 * k[h // 2, : tokens + 1] @ q[h]
        w = np.exp(s - s.max())
        np.testing.assert_allclose(o[h], (w / w.sum()) @ v[h // 2, : tokens + 1], atol=1e-5)
        assert lse[h, 0] == pytest.approx(s.max() + np.log(w.sum()), abs=1e-4)
