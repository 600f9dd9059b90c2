"""RetrievalAttention: maximum inner product search for out-of-distribution queries, and
retrieval attention for long-context decoding, over the C++ library.

Arrays: float32 (keys also float16) with contiguous rows are used without a copy (numpy arrays,
or any object with DLPack or the buffer protocol, torch CPU tensors included); anything else is
converted once to float32. Results are numpy arrays. Errors raise ValueError (bad input,
corrupted files), OSError (files) or RuntimeError, with the library's message.

    import retrieval_attention as ra
    index = ra.GraphIndex.build(keys, train_queries, degree=32)
    ids, scores = index.search(queries, k=10, beam=64)
"""
import numpy as _np

from . import _ext

__all__ = ["GraphIndex", "FlatIndex", "RetrievalLayer", "recall", "diagnose"]


def _rows(a, allow_f16=False):
    """a as is when the library can read it in place, else a float32 C-contiguous copy."""
    dtype = getattr(a, "dtype", None)
    ok = {_np.dtype(_np.float32)} | ({_np.dtype(_np.float16)} if allow_f16 else set())
    if isinstance(a, _np.ndarray):
        if a.ndim == 2 and a.dtype in ok and (a.strides[1] == a.itemsize or a.shape[1] == 1) and a.strides[0] > 0:
            return a
        return _np.ascontiguousarray(a, dtype=_np.float32)
    if hasattr(a, "__dlpack__") and str(dtype).split(".")[-1] in ("float32",) + (("float16",) if allow_f16 else ()):
        return a  # DLPack (torch CPU tensors): read in place
    return _np.ascontiguousarray(_np.asarray(a), dtype=_np.float32)


class GraphIndex:
    """Query-guided graph index (RoarGraph-style) for MIPS: score(q, key) = <q, key>, larger is better."""

    def __init__(self, ext):
        self._ext = ext

    @staticmethod
    def build(keys, train_queries, degree=32, query_knn=100, dtype="f32", threads=0, copy=True, knn="auto"):
        """Builds over keys (n, d) guided by train_queries (m, d), samples of the query
        distribution. copy=False references keys without a copy (keep them alive; changes show).
        dtype: storage of copied keys, 'f32' or 'f16'. knn: 'auto' (exact up to 2^30 keys x queries,
        clustered above), 'exact', 'bootstrap' or 'clustered'."""
        k = _rows(keys, allow_f16=True)
        index = GraphIndex(_ext.GraphIndex.build(k, _rows(train_queries), degree, query_knn, dtype, threads,
                                                 copy, knn))
        index._keys = k  # a referencing index needs them alive
        return index

    @staticmethod
    def load(path):
        """Loads a file written by save() or `ra build`."""
        return GraphIndex(_ext.GraphIndex.load(str(path)))

    def save(self, path):
        """Writes one versioned, checksummed .ra file (readable by `ra query`)."""
        self._ext.save(str(path))

    def search(self, queries, k=10, beam=64, threads=0, return_stats=False):
        """(ids (q, k) int64, scores (q, k) float32), best first; with return_stats also an
        (q, 2) int64 array of keys scored and graph hops per query."""
        return self._ext.search(_rows(queries), k, beam, threads, return_stats)

    def append(self, rows):
        """Adds rows (n, d) as new keys (copying index only)."""
        self._ext.append(_rows(rows, allow_f16=True))

    @property
    def size(self):
        return self._ext.size

    @property
    def dim(self):
        return self._ext.dim

    @property
    def memory_bytes(self):
        return self._ext.memory_bytes

    def __len__(self):
        return self._ext.size


class FlatIndex:
    """Exact MIPS by scanning every key (the ground-truth oracle)."""

    def __init__(self, keys):
        self._keys = _rows(keys, allow_f16=True)
        self._ext = _ext.FlatIndex(self._keys)

    def search(self, queries, k=10, threads=0):
        """(ids (q, k) int64, scores (q, k) float32), best first."""
        return self._ext.search(_rows(queries), k, threads)


def recall(found, truth, k):
    """recall@k: the mean share of each row's first k true ids found in found's first k."""
    found = _np.ascontiguousarray(found, dtype=_np.int64)
    truth = _np.ascontiguousarray(truth)
    if truth.dtype not in (_np.int32, _np.int64):
        truth = truth.astype(_np.int64)
    return _ext.recall(found, truth, k)


def diagnose(keys, queries, causal=False, sink=4, window=64, scale=0.0):
    """Are the queries out of distribution for the keys (Mahalanobis ratio), and how sparse is
    their softmax attention: a dict of figures, as `ra diag` prints."""
    return _ext.diagnose(_rows(keys, allow_f16=True), _rows(queries), causal, sink, window, scale)


RetrievalLayer = _ext.RetrievalLayer
