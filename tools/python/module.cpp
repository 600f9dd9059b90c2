// Python bindings (nanobind) over the public C++ API: GraphIndex, FlatIndex, recall,
// diagnostics and RetrievalLayer. Arrays come in without copies where their layout allows
// (float32 or float16 rows with any row stride, from numpy or anything with DLPack, torch CPU
// tensors included); other dtypes or layouts are converted once. Results are numpy arrays. The
// GIL is released while the library works; a non-OK Status becomes ValueError (bad input),
// OSError (files) or RuntimeError, with the library's message.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>

#include <cstring>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include "attention/retrieval_layer.h"
#include "attention/sparsity.h"
#include "index/flat_index.h"
#include "index/graph_index.h"
#include "index/ood_diagnostics.h"
#include "index/recall.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using ra::DType;
using ra::MatrixView;
using ra::Status;
using ra::StatusCode;

// Raised as OSError by the translator registered in the module (never touches Python here: the
// GIL may be released when a Status turns into an exception).
struct OsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void raise(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorruption:
    case StatusCode::kUnsupported:
    case StatusCode::kNotFound: throw nb::value_error(s.to_string().c_str());
    case StatusCode::kIoError: throw OsError(s.to_string());
    case StatusCode::kResourceExhausted: throw std::bad_alloc();
    default: throw std::runtime_error(s.to_string());
  }
}
void check(const Status& s) {
  if (!s.ok()) raise(s);
}
template <class T>
T value(ra::Result<T> r) {
  if (!r.ok()) raise(r.status());
  return std::move(r).value();
}

// A 2-D array of vectors: rows with any row stride, elements contiguous within a row.
using Rows = nb::ndarray<nb::ndim<2>, nb::device::cpu>;

// A view of `a` without a copy: float32 (or float16 where allowed) with unit column stride.
// (The Python wrappers convert anything else once before it gets here.)
MatrixView view_of(const Rows& a, bool allow_f16) {
  const auto rows = a.shape(0), dim = a.shape(1);
  const bool f32 = a.dtype() == nb::dtype<float>();
  const bool f16 = a.dtype().code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float) && a.dtype().bits == 16;
  if ((f32 || (f16 && allow_f16)) && (a.stride(1) == 1 || dim == 1) && a.stride(0) >= static_cast<int64_t>(dim)) {
    return {a.data(), f32 ? DType::kF32 : DType::kF16, rows, dim, static_cast<std::size_t>(rows > 1 ? a.stride(0) : dim)};
  }
  throw nb::type_error("expected a 2-D float32 (or float16 for keys) array with contiguous rows; "
                       "convert with numpy.ascontiguousarray(x, dtype=numpy.float32)");
}

nb::ndarray<nb::numpy, float> to_numpy(std::vector<float> v, std::size_t rows, std::size_t cols) {
  auto* heap = new std::vector<float>(std::move(v));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  return nb::ndarray<nb::numpy, float>(heap->data(), {rows, cols}, owner);
}
nb::ndarray<nb::numpy, int64_t> to_numpy(std::vector<ra::Label> v, std::size_t rows, std::size_t cols) {
  auto* heap = new std::vector<ra::Label>(std::move(v));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<ra::Label>*>(p); });
  return nb::ndarray<nb::numpy, int64_t>(heap->data(), {rows, cols}, owner);
}

// GraphIndex with the arrays it references kept alive.
struct PyGraphIndex {
  std::unique_ptr<ra::GraphIndex> index;
  nb::object keys_owner;  // the caller's keys, for a referencing index

  static PyGraphIndex build(const Rows& keys, const Rows& train, std::uint32_t degree, std::uint32_t query_knn,
                            const std::string& dtype, std::uint32_t threads, bool copy, const std::string& knn) {
    ra::BuildConfig cfg;
    cfg.max_degree = degree;
    cfg.query_knn = query_knn;
    cfg.num_threads = threads;
    if (!ra::parse_dtype(dtype, &cfg.storage)) throw nb::value_error("dtype must be 'f32' or 'f16'");
    if (!ra::parse_knn_mode(knn, &cfg.knn_mode)) throw nb::value_error("knn must be 'auto', 'exact', 'bootstrap' or 'clustered'");
    const MatrixView k = view_of(keys, true), q = view_of(train, false);
    PyGraphIndex out;
    {
      nb::gil_scoped_release release;
      out.index = value(ra::GraphIndex::build(k, q, cfg, copy ? ra::KeyOwnership::kCopy : ra::KeyOwnership::kReference));
    }
    if (!copy) out.keys_owner = nb::cast(keys);
    return out;
  }

  nb::tuple search(const Rows& queries, std::uint32_t k, std::uint32_t beam, std::uint32_t threads,
                   bool return_stats) const {
    const MatrixView q = view_of(queries, false);
    ra::SearchResults res;
    std::vector<ra::SearchStats> stats;
    {
      nb::gil_scoped_release release;
      check(index->search(q, {k, std::max(beam, k), threads}, &res, return_stats ? &stats : nullptr));
    }
    auto ids = to_numpy(std::move(res.ids), res.num_queries, k);
    auto scores = to_numpy(std::move(res.scores), res.num_queries, k);
    if (!return_stats) return nb::make_tuple(ids, scores);
    std::vector<ra::Label> evals(stats.size() * 2);
    for (std::size_t i = 0; i < stats.size(); ++i) {
      evals[2 * i] = static_cast<ra::Label>(stats[i].score_evals);
      evals[2 * i + 1] = static_cast<ra::Label>(stats[i].hops);
    }
    return nb::make_tuple(ids, scores, to_numpy(std::move(evals), stats.size(), 2));
  }
};

struct PyFlatIndex {
  nb::object owner;
  std::unique_ptr<ra::FlatIndex> index;
};

}  // namespace

NB_MODULE(_ext, m) {
  m.doc() = "RetrievalAttention: MIPS for out-of-distribution queries and retrieval attention.";
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const OsError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });

  nb::class_<PyGraphIndex>(m, "GraphIndex",
                           "Query-guided graph index for maximum inner product search (score = <q, key>).")
      .def_static("build", &PyGraphIndex::build, "keys"_a, "train_queries"_a, "degree"_a = 32, "query_knn"_a = 100,
                  "dtype"_a = "f32", "threads"_a = 0, "copy"_a = true, "knn"_a = "auto",
                  "Builds over keys (n, d) float32/float16, guided by train_queries (m, d) float32, samples of the\n"
                  "query distribution. copy=False references the keys (no copy; they must not be freed, and\n"
                  "changes to them are seen). dtype: storage of copied keys. knn: 'auto', 'exact', 'bootstrap' or 'clustered'.")
      .def_static(
          "load",
          [](const std::string& path) {
            PyGraphIndex out;
            nb::gil_scoped_release release;
            out.index = value(ra::GraphIndex::load(path));
            return out;
          },
          "path"_a, "Loads an index written by save() (or by `ra build`) that embeds its keys.")
      .def("save", [](const PyGraphIndex& self, const std::string& path) {
            nb::gil_scoped_release release;
            check(self.index->save(path));
          }, "path"_a, "Writes one versioned, checksummed file (atomically).")
      .def("search", &PyGraphIndex::search, "queries"_a, "k"_a = 10, "beam"_a = 64, "threads"_a = 0,
           "return_stats"_a = false,
           "Top-k by inner product of each query (q, d) float32: (ids (q, k) int64, scores (q, k) float32),\n"
           "best first; with return_stats also (q, 2) int64 of keys scored and graph hops per query.")
      .def("append", [](PyGraphIndex& self, const Rows& rows) {
            const MatrixView r = view_of(rows, true);
            nb::gil_scoped_release release;
            check(self.index->append(r));
          }, "rows"_a, "Adds rows (n, d) as new keys (owning index only); searchable at once.")
      .def_prop_ro("size", [](const PyGraphIndex& self) { return self.index->size(); })
      .def_prop_ro("dim", [](const PyGraphIndex& self) { return self.index->dim(); })
      .def_prop_ro("memory_bytes", [](const PyGraphIndex& self) { return self.index->memory_bytes(); })
      .def("__len__", [](const PyGraphIndex& self) { return self.index->size(); });

  nb::class_<PyFlatIndex>(m, "FlatIndex", "Exact maximum inner product search by scanning every key.")
      .def("__init__", [](PyFlatIndex* self, const Rows& keys) {
            new (self) PyFlatIndex();
            self->index = std::make_unique<ra::FlatIndex>(value(ra::FlatIndex::over(view_of(keys, true))));
            self->owner = nb::cast(keys);
          }, "keys"_a, "References keys (n, d) float32/float16 without a copy.")
      .def("search", [](const PyFlatIndex& self, const Rows& queries, std::uint32_t k, std::uint32_t threads) {
            const MatrixView q = view_of(queries, false);
            ra::SearchResults res;
            {
              nb::gil_scoped_release release;
              check(self.index->search(q, {k, 0, threads}, &res));
            }
            return nb::make_tuple(to_numpy(std::move(res.ids), res.num_queries, k),
                                  to_numpy(std::move(res.scores), res.num_queries, k));
          }, "queries"_a, "k"_a = 10, "threads"_a = 0, "Exact top-k: (ids (q, k) int64, scores (q, k) float32).");

  m.def("recall", [](nb::ndarray<int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu> found,
                     nb::ndarray<nb::ndim<2>, nb::c_contig, nb::device::cpu> truth, std::size_t k) {
          std::vector<ra::Label> t(truth.size());
          if (truth.dtype() == nb::dtype<int64_t>()) {
            std::memcpy(t.data(), truth.data(), t.size() * sizeof(ra::Label));
          } else if (truth.dtype() == nb::dtype<int32_t>()) {
            for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<const int32_t*>(truth.data())[i];
          } else {
            throw nb::type_error("truth must be int32 or int64");
          }
          return ra::recall_at_k<ra::Label, ra::Label>({found.data(), found.size()}, found.shape(1), t, truth.shape(1), k);
        }, "found"_a, "truth"_a, "k"_a,
        "recall@k: the mean share of each row's first k true ids found in found's first k.");

  m.def("diagnose", [](const Rows& keys, const Rows& queries, bool causal, std::uint32_t sink, std::uint32_t window,
                       double scale) {
          const MatrixView k = view_of(keys, true), q = view_of(queries, false);
          ra::attention::SparsityConfig sc;
          sc.causal = causal;
          sc.num_sink = sink;
          sc.window = window;
          sc.scale = scale;
          ra::OodReport ood;
          ra::attention::SparsityReport sp;
          {
            nb::gil_scoped_release release;
            ood = value(ra::diagnose_ood(k, q, {}));
            sp = value(ra::attention::attention_sparsity(k, q, sc));
          }
          nb::dict d;
          d["ratio_mean"] = ood.ratio_mean;
          d["ratio_median"] = ood.ratio_median;
          d["query_distance_mean"] = ood.query_distance.mean;
          d["heldout_key_distance_mean"] = ood.heldout_key_distance.mean;
          d["frac_keys_mass50"] = sp.mass.frac_keys_mass50;
          d["frac_keys_mass90"] = sp.mass.frac_keys_mass90;
          d["frac_keys_mass99"] = sp.mass.frac_keys_mass99;
          d["top100_mass"] = sp.mass.top100_mass;
          d["top1000_mass"] = sp.mass.top1000_mass;
          d["static_sink_window_mass"] = sp.static_sink_window_mass;
          return d;
        }, "keys"_a, "queries"_a, "causal"_a = false, "sink"_a = 4, "window"_a = 64, "scale"_a = 0.0,
        "Out-of-distribution (Mahalanobis) and attention-sparsity figures of queries against keys, as a dict.");

  // Retrieval attention for one layer over numpy KV caches of shape (kv_heads, tokens, dim).
  struct PyLayer {
    std::unique_ptr<ra::attention::RetrievalLayer> layer;
    std::uint32_t q_heads, kv_heads, dim;
    DType dtype;
    std::vector<nb::object> keep;  // the caches of the sequences
  };
  using Heads3 = nb::ndarray<nb::ndim<3>, nb::device::cpu>;
  auto heads_view = [](const Heads3& a, DType want) {
    const bool f32 = a.dtype() == nb::dtype<float>();
    const DType t = f32 ? DType::kF32 : DType::kF16;
    if ((!f32 && !(a.dtype().code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float) && a.dtype().bits == 16)) ||
        t != want || a.stride(2) != 1) {
      throw nb::type_error("expected a (heads, tokens, dim) array of the layer's dtype with contiguous rows");
    }
    return ra::attention::HeadsView{a.data(), t, static_cast<std::uint32_t>(a.shape(1)), static_cast<std::uint32_t>(a.shape(0)),
                                    static_cast<std::uint32_t>(a.shape(2)), a.stride(1), a.stride(0)};
  };
  nb::class_<PyLayer>(m, "RetrievalLayer",
                      "Retrieval attention of one layer for a batch of sequences (see attention/retrieval_layer.h).")
      .def("__init__", [](PyLayer* self, std::uint32_t q_heads, std::uint32_t kv_heads, std::uint32_t dim,
                          const std::string& dtype, std::uint32_t top_k, std::uint32_t beam, std::uint32_t sink,
                          std::uint32_t window, double beam_recall) {
            ra::attention::RetrievalConfig cfg;
            cfg.top_k = top_k;
            cfg.beam = beam;
            cfg.beam_recall = beam_recall;
            cfg.static_set = {sink, window};
            DType t;
            if (!ra::parse_dtype(dtype, &t) || t == DType::kBF16) throw nb::value_error("dtype must be 'f32' or 'f16'");
            new (self) PyLayer{value(ra::attention::RetrievalLayer::create(q_heads, kv_heads, dim, t, cfg)), q_heads,
                               kv_heads, dim, t, {}};
          }, "q_heads"_a, "kv_heads"_a, "dim"_a, "dtype"_a = "f32", "top_k"_a = 100, "beam"_a = 320, "sink"_a = 4,
          "window"_a = 64, "beam_recall"_a = 0.0)
      .def("add_sequence", [heads_view](PyLayer& self, std::uint64_t id, const Heads3& keys, const Heads3& values,
                                        std::uint32_t tokens, const Heads3& prefill_queries) {
            ra::attention::KvView kv{heads_view(keys, self.dtype), heads_view(values, self.dtype)};
            kv.k.num_tokens = kv.v.num_tokens = tokens;
            const auto q = heads_view(prefill_queries, DType::kF32);
            {
              nb::gil_scoped_release release;
              check(self.layer->add_sequence(id, kv, q));
            }
            self.keep.push_back(nb::cast(keys));
            self.keep.push_back(nb::cast(values));
          }, "id"_a, "keys"_a, "values"_a, "tokens"_a, "prefill_queries"_a,
          "keys, values: (kv_heads, capacity, dim) caches (referenced, not copied) holding `tokens` tokens;\n"
          "prefill_queries: (q_heads, tokens, dim) float32.")
      .def("attend", [heads_view](PyLayer& self, std::uint64_t id, const Heads3& keys, const Heads3& values,
                                  std::uint32_t tokens, nb::ndarray<float, nb::ndim<2>, nb::c_contig, nb::device::cpu> q,
                                  float scale, bool include_static) {
            ra::attention::KvView kv{heads_view(keys, self.dtype), heads_view(values, self.dtype)};
            kv.k.num_tokens = kv.v.num_tokens = tokens;
            std::vector<float> o(static_cast<std::size_t>(self.q_heads) * self.dim), lse(self.q_heads);
            const ra::attention::SequenceQuery query{id, kv, q.data(), self.dim, o.data(), self.dim, lse.data()};
            {
              nb::gil_scoped_release release;
              check(self.layer->attend({&query, 1}, scale,
                                       include_static ? ra::attention::Coverage::kAll
                                                      : ra::attention::Coverage::kRetrievedAndTail));
            }
            return nb::make_tuple(to_numpy(std::move(o), self.q_heads, self.dim), to_numpy(std::move(lse), self.q_heads, 1));
          }, "id"_a, "keys"_a, "values"_a, "tokens"_a, "q"_a, "scale"_a, "include_static"_a = true,
          "Attention of q (q_heads, dim) float32 over the sequence's first `tokens` tokens: (o (q_heads, dim),\n"
          "lse (q_heads, 1), natural log). include_static=False leaves out sinks + window (merge your own).")
      .def("absorb", [heads_view](PyLayer& self, std::uint64_t id, const Heads3& keys, const Heads3& values,
                                  std::uint32_t tokens) {
            ra::attention::KvView kv{heads_view(keys, self.dtype), heads_view(values, self.dtype)};
            kv.k.num_tokens = kv.v.num_tokens = tokens;
            nb::gil_scoped_release release;
            check(self.layer->absorb(id, kv));
          }, "id"_a, "keys"_a, "values"_a, "tokens"_a, "Moves tokens that left the window into the indexes.")
      .def("remove_sequence", [](PyLayer& self, std::uint64_t id) { check(self.layer->remove_sequence(id)); }, "id"_a);
}
