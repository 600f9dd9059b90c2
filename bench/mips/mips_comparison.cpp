#include "bench/mips/mips_comparison.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <nlohmann/json.hpp>

#include "index/graph_index.h"
#include "index/partition_index.h"
#include "simd/inner_product.h"
#include "tools/report/svg.h"
#include "tools/eval/measure.h"
#include "tools/report/table.h"

#if RA_WITH_HNSWLIB
#include <hnswlib/hnswlib.h>
#endif
#if RA_WITH_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/HNSW.h>
#endif

namespace ra::tools {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// OpenMP's thread count for the scope: faiss opens its own parallel regions (even for one
// query), so without this a "one thread" search of faiss uses every core.
class OmpThreads {
 public:
  explicit OmpThreads(std::uint32_t n) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(n ? static_cast<int>(n) : omp_get_num_procs());
  }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// A sweep from `first`, about 1.3x apart, until the recall reaches the target, stops gaining
// (under 0.001 while the width grew 4x, judged from a width of k on: below it, as our beam with
// hubs, recall can stall and rise again) or the width passes `last`.
template <typename Measure>
std::vector<MipsRow> sweep(std::uint32_t first, std::uint32_t last, const MipsBenchOptions& o,
                           const Measure& measure_width) {
  std::vector<MipsRow> rows;
  std::vector<std::uint32_t> widths;
  for (std::uint32_t w = std::max<std::uint32_t>(first, 1); w <= last;
       w = std::max(w + 1, static_cast<std::uint32_t>(std::lround(w * 1.3)))) {
    rows.push_back(measure_width(w));
    widths.push_back(w);
    if (rows.back().recall >= o.target_recall) break;
    std::size_t back = widths.size() - 1;  // the latest row at most a quarter as wide
    while (back > 0 && widths[back] * 4 > w) --back;
    if (w >= o.k && widths[back] * 4 <= w && rows.back().recall < rows[back].recall + 0.001) break;
  }
  return rows;
}

std::uint32_t last_width(const MipsBenchOptions& o) {
  return std::min<std::uint32_t>(kMaxBeam, std::max<std::uint32_t>(o.k, 10) * o.max_width_factor);
}

MipsRow as_row(std::string param, const SweepRow& r) {
  return {std::move(param), r.recall, r.scored_mean, r.scored_fraction, r.qps, r.latency_us_p99};
}

// Keys scored are averaged over every test query, like recall: in a second, serial pass,
// since faiss keeps its counts in one global counter.
MipsRow measure(const std::string& param, const QuerySearch& search, const Matrix& queries,
                const IdMatrix& truth, std::uint32_t k, std::uint32_t threads, std::size_t n) {
  return as_row(param, measure_queries(search, queries.view(), truth, k, threads, n, queries.rows()));
}

Result<MipsMethod> run_flat(const Matrix& keys, const Matrix& queries, const IdMatrix& truth,
                            const MipsBenchOptions& o) {
  RA_ASSIGN_OR_RETURN(const SweepRow r, exact_scan_row(keys.view(), queries.view(), truth, o.k, o.threads));
  return MipsMethod{"flat (exact)", "", 0, keys.bytes(), {as_row("exact", r)}};
}

Result<MipsMethod> run_graph(const Matrix& keys, const Matrix& train, const Matrix& queries, const IdMatrix& truth,
                             const MipsBenchOptions& o) {
  BuildConfig cfg;
  cfg.max_degree = o.degree;
  cfg.num_threads = o.build_threads;
  const auto t0 = Clock::now();
  RA_ASSIGN_OR_RETURN(auto index, GraphIndex::build(keys.view(), train.view(), cfg));
  const std::size_t hubs = index->hubs().size();
  MipsMethod m{"query-guided graph (ours)",
               "M=" + std::to_string(cfg.max_degree) + " Kq=" + std::to_string(cfg.query_knn) +
                   " build_beam=" + std::to_string(cfg.build_beam) + " entries=" + std::to_string(cfg.num_entries) +
                   " hubs=" + std::to_string(hubs) + " training_queries=" + std::to_string(train.rows()),
               seconds_since(t0), index->memory_bytes(), {}};
  std::vector<SearchContext> contexts;
  for (std::uint32_t t = 0; t < std::max<std::uint32_t>(o.threads, 1); ++t) contexts.push_back(index->make_context());
  // The beam covers the graph's part of the top-k: with hubs it may start below k.
  const auto first = static_cast<std::uint32_t>(hubs >= o.k ? 1 : o.k - hubs);
  m.rows = sweep(first, last_width(o), o, [&](std::uint32_t beam) {
    const SearchParams p{o.k, beam, 1};
    return measure("beam=" + std::to_string(beam), [&](const float* q, Label* ids) {
      SearchStats st;
      thread_local std::vector<float> sc;
      sc.resize(o.k);
      (void)index->search_one(q, p, contexts[static_cast<std::size_t>(omp_get_thread_num())], ids, sc.data(), &st);
      return st;
    }, queries, truth, o.k, o.threads, keys.rows());
  });
  return m;
}

// Partitions + 4-bit codes + exact reorder (ours): the probes swept at each reorder depth of
// ScaNN's sweep in the suite (k to 16k), so that both are measured alike. The deep ones are
// how 4-bit codes reach recall 0.99: their ranking errs by more than the top-k's gaps.
Result<MipsMethod> run_partition(const Matrix& keys, const Matrix& queries, const IdMatrix& truth,
                                 const MipsBenchOptions& o) {
  PartitionConfig cfg;
  cfg.num_threads = o.build_threads;
  const auto t0 = Clock::now();
  RA_ASSIGN_OR_RETURN(auto index, PartitionIndex::build(keys.view(), cfg));
  MipsMethod m{"partitions + 4-bit codes (ours)",
               "lists=" + std::to_string(index->lists()) + " subspace_dims=" + std::to_string(cfg.subspace_dims) +
                   " iterations=" + std::to_string(cfg.iterations) + " reorder in {k, 2k, 4k, 8k, 16k}",
               seconds_since(t0), index->memory_bytes(), {}};
  std::vector<PartitionContext> contexts(std::max<std::uint32_t>(o.threads, 1));
  for (std::uint32_t depth : {1u, 2u, 4u, 8u, 16u}) {
    const std::uint32_t reorder = std::min<std::uint32_t>(depth * o.k, static_cast<std::uint32_t>(keys.rows()));
    auto rows = sweep(1, static_cast<std::uint32_t>(index->lists()), o, [&](std::uint32_t probes) {
      const PartitionSearchParams p{o.k, probes, reorder};
      return measure("probes=" + std::to_string(probes) + " reorder=" + std::to_string(reorder),
                     [&](const float* q, Label* ids) {
                       SearchStats st;
                       thread_local std::vector<float> sc;
                       sc.resize(o.k);
                       (void)index->search_one(q, p, contexts[static_cast<std::size_t>(omp_get_thread_num())], ids,
                                               sc.data(), &st);
                       return st;
                     }, queries, truth, o.k, o.threads, keys.rows());
    });
    m.rows.insert(m.rows.end(), rows.begin(), rows.end());
  }
  return m;
}

#if RA_WITH_HNSWLIB
// Inner product through this project's kernel (the same SIMD level for every method), counting
// every distance hnswlib asks for. hnswlib minimises, so it sees 1 - <q, x>.
thread_local std::uint64_t g_hnswlib_evals = 0;
float counted_ip_distance(const void* a, const void* b, const void* dim) {
  ++g_hnswlib_evals;
  return 1.0f - simd::dot(static_cast<const float*>(a), static_cast<const float*>(b), *static_cast<const std::size_t*>(dim));
}
class CountingIpSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit CountingIpSpace(std::size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return counted_ip_distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  std::size_t dim_;
};

MipsMethod run_hnswlib(const Matrix& keys, const Matrix& queries, const IdMatrix& truth, const MipsBenchOptions& o) {
  CountingIpSpace space(keys.dim());
  const auto t0 = Clock::now();
  hnswlib::HierarchicalNSW<float> index(&space, keys.rows(), o.degree, 200);
  const int build_threads = o.build_threads ? static_cast<int>(o.build_threads) : omp_get_num_procs();
#pragma omp parallel for schedule(dynamic, 256) num_threads(build_threads)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(keys.rows()); ++i) {
    index.addPoint(keys.f32_row(static_cast<std::size_t>(i)), static_cast<hnswlib::labeltype>(i));
  }
  MipsMethod m{"hnswlib HNSW (IP, on keys)", "M=" + std::to_string(o.degree) + " efConstruction=200", seconds_since(t0),
               index.max_elements_ * index.size_data_per_element_, {}};
  m.rows = sweep(o.k, last_width(o), o, [&](std::uint32_t ef) {
    index.setEf(ef);
    return measure("ef=" + std::to_string(ef), [&](const float* q, Label* ids) {
      const std::uint64_t before = g_hnswlib_evals;
      auto top = index.searchKnn(q, o.k);
      for (std::size_t j = top.size(); j-- > 0;) {
        ids[j] = static_cast<Label>(top.top().second);
        top.pop();
      }
      return SearchStats{g_hnswlib_evals - before, 0};
    }, queries, truth, o.k, o.threads, keys.rows());
  });
  return m;
}
#endif

#if RA_WITH_FAISS
MipsMethod run_faiss_hnsw(const Matrix& keys, const Matrix& queries, const IdMatrix& truth, const MipsBenchOptions& o) {
  const auto t0 = Clock::now();
  faiss::IndexHNSWFlat index(static_cast<int>(keys.dim()), static_cast<int>(o.degree), faiss::METRIC_INNER_PRODUCT);
  index.hnsw.efConstruction = 200;
  {
    const OmpThreads build(o.build_threads);
    index.add(static_cast<faiss::Index::idx_t>(keys.rows()), keys.f32_row(0));
  }
  MipsMethod m{"faiss IndexHNSWFlat (IP)", "M=" + std::to_string(o.degree) + " efConstruction=200", seconds_since(t0),
               keys.bytes() + index.hnsw.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t), {}};
  const OmpThreads search(o.threads);
  m.rows = sweep(o.k, last_width(o), o, [&](std::uint32_t ef) {
    index.hnsw.efSearch = static_cast<int>(ef);
    return measure("ef=" + std::to_string(ef), [&](const float* q, Label* ids) {
      std::vector<float> d(o.k);
      std::vector<faiss::Index::idx_t> l(o.k);
      faiss::hnsw_stats.reset();
      index.search(1, q, o.k, d.data(), l.data());
      std::copy(l.begin(), l.end(), ids);
      return SearchStats{faiss::hnsw_stats.n3, 0};  // faiss 1.7 counts distances in n3
    }, queries, truth, o.k, o.threads, keys.rows());
  });
  return m;
}

MipsMethod run_faiss_ivf(const Matrix& keys, const Matrix& queries, const IdMatrix& truth, const MipsBenchOptions& o) {
  const auto nlist = static_cast<std::size_t>(std::max(16.0, 4.0 * std::sqrt(static_cast<double>(keys.rows()))));
  // Trained on a seeded random sample of 64 keys per list (faiss's own default would take the
  // first rows, which on a long context are one region of it).
  const std::size_t train_rows = std::min<std::size_t>(keys.rows(), 64 * nlist);
  std::vector<std::size_t> order(keys.rows());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<float> sample(train_rows * keys.dim());
  for (std::size_t i = 0; i < train_rows; ++i) {
    std::copy_n(keys.f32_row(order[i]), keys.dim(), sample.data() + i * keys.dim());
  }
  const auto t0 = Clock::now();
  faiss::IndexFlatIP quantizer(static_cast<int>(keys.dim()));
  faiss::IndexIVFFlat index(&quantizer, keys.dim(), nlist, faiss::METRIC_INNER_PRODUCT);
  {
    const OmpThreads build(o.build_threads);
    index.train(static_cast<faiss::Index::idx_t>(train_rows), sample.data());
    index.add(static_cast<faiss::Index::idx_t>(keys.rows()), keys.f32_row(0));
  }
  MipsMethod m{"faiss IndexIVFFlat (IP, nlist=" + std::to_string(nlist) + ")",
               "nlist=" + std::to_string(nlist) + " train_sample=" + std::to_string(train_rows) +
                   " (random, seed " + std::to_string(o.seed) + ")",
               seconds_since(t0),
               keys.bytes() + keys.rows() * sizeof(faiss::Index::idx_t) + nlist * keys.dim() * sizeof(float), {}};
  const OmpThreads search(o.threads);
  m.rows = sweep(1, static_cast<std::uint32_t>(nlist), o, [&](std::uint32_t nprobe) {
    index.nprobe = nprobe;
    return measure("nprobe=" + std::to_string(nprobe), [&](const float* q, Label* ids) {
      std::vector<float> d(o.k);
      std::vector<faiss::Index::idx_t> l(o.k);
      faiss::indexIVF_stats.reset();
      index.search(1, q, o.k, d.data(), l.data());
      std::copy(l.begin(), l.end(), ids);
      return SearchStats{faiss::indexIVF_stats.ndis + nlist, 0};  // lists scanned + centroids
    }, queries, truth, o.k, o.threads, keys.rows());
  });
  return m;
}
#endif

bool skipped(const MipsBenchOptions& o, const std::string& name) {
  return std::find(o.skip.begin(), o.skip.end(), name) != o.skip.end();
}

}  // namespace

Result<MipsBenchReport> run_mips_bench(const Matrix& keys, const Matrix& train_queries, const Matrix& queries,
                                       const IdMatrix& truth, const MipsBenchOptions& o) {
  if (keys.dtype() != DType::kF32 || queries.dtype() != DType::kF32 || train_queries.dtype() != DType::kF32) {
    return Status::InvalidArgument("the MIPS benchmark takes f32 keys and queries");
  }
  if (keys.dim() != queries.dim() || keys.dim() != train_queries.dim()) {
    return Status::InvalidArgument("keys, training queries and queries must have the same dimension");
  }
  if (keys.rows() < 2 * o.degree || keys.rows() < 16) {
    return Status::InvalidArgument("the MIPS benchmark needs at least max(16, 2 x degree) keys, got " +
                                   std::to_string(keys.rows()));
  }
  RA_RETURN_IF_ERROR(check_truth(keys.view(), queries.view(), truth, o.k));
  MipsBenchReport r{keys.rows(), keys.dim(), queries.rows(), o.k, std::max<std::uint32_t>(o.threads, 1),
                    o.build_threads ? o.build_threads : static_cast<std::uint32_t>(omp_get_num_procs()), {}, {}};
  MipsBenchOptions opt = o;
  opt.threads = r.threads;
  if (!skipped(o, "flat")) {
    RA_ASSIGN_OR_RETURN(MipsMethod m, run_flat(keys, queries, truth, opt));
    r.methods.push_back(std::move(m));
  }
  if (!skipped(o, "graph")) {
    RA_ASSIGN_OR_RETURN(MipsMethod m, run_graph(keys, train_queries, queries, truth, opt));
    r.methods.push_back(std::move(m));
  }
  if (!skipped(o, "partition")) {
    RA_ASSIGN_OR_RETURN(MipsMethod m, run_partition(keys, queries, truth, opt));
    r.methods.push_back(std::move(m));
  }
#if RA_WITH_HNSWLIB
  if (!skipped(o, "hnswlib")) r.methods.push_back(run_hnswlib(keys, queries, truth, opt));
#else
  r.skipped.push_back("hnswlib (not found at configure time: install libhnswlib-dev)");
#endif
#if RA_WITH_FAISS
  try {
    if (!skipped(o, "faiss-hnsw")) r.methods.push_back(run_faiss_hnsw(keys, queries, truth, opt));
    if (!skipped(o, "faiss-ivf")) r.methods.push_back(run_faiss_ivf(keys, queries, truth, opt));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("faiss: ") + e.what());
  }
#else
  r.skipped.push_back("faiss (not found at configure time: install libfaiss-dev)");
#endif
  return r;
}

std::string mips_table(const MipsBenchReport& r) {
  Table t({"method", "param", "recall@" + std::to_string(r.k), "keys scored", "% of n", "QPS", "p99 us",
           "build s", "memory MiB"});
  for (const auto& m : r.methods) {
    for (const auto& row : m.rows) {
      t.add_row({m.name, row.param, format("%.4f", row.recall), format("%.0f", row.scored_mean),
                 format("%.2f%%", 100 * row.scored_fraction), format("%.0f", row.qps),
                 format("%.1f", row.latency_us_p99), format("%.1f", m.build_s),
                 format("%.1f", static_cast<double>(m.memory_bytes) / (1 << 20))});
    }
  }
  std::string out = t.render();
  out += "search on " + std::to_string(r.threads) + " thread(s), builds on " + std::to_string(r.build_threads) +
         "; keys scored averaged over all " + std::to_string(r.num_queries) + " test queries\n";
  for (const auto& m : r.methods) {
    if (!m.settings.empty()) out += m.name + ": " + m.settings + "\n";
  }
  for (const auto& s : r.skipped) out += "skipped: " + s + "\n";
  return out;
}

std::string mips_json(const MipsBenchReport& r) {
  nlohmann::json j = {{"n", r.n}, {"dim", r.dim}, {"k", r.k}, {"threads", r.threads},
                      {"build_threads", r.build_threads}, {"keys_scored_over", "every test query"},
                      {"methods", nlohmann::json::array()}, {"skipped", r.skipped}};
  for (const auto& m : r.methods) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : m.rows) {
      rows.push_back({{"param", row.param}, {"recall", row.recall}, {"scored_mean", row.scored_mean},
                      {"scored_fraction", row.scored_fraction},
                      {"qps", row.qps}, {"latency_us_p99", row.latency_us_p99}});
    }
    j["methods"].push_back({{"name", m.name}, {"settings", m.settings}, {"build_s", m.build_s}, {"memory_bytes", m.memory_bytes}, {"rows", rows}});
  }
  return j.dump(2) + "\n";
}

std::string mips_svg(const MipsBenchReport& r, const std::string& title) {
  static const char* kColors[] = {"#7f7f7f", "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"};
  Panel scored{"recall vs keys scored", "share of keys scored per query", "recall@" + std::to_string(r.k), true, {}};
  Panel speed{"recall vs queries per second", "QPS (" + std::to_string(r.threads) + " thread(s))",
              "recall@" + std::to_string(r.k), true, {}};
  for (std::size_t i = 0; i < r.methods.size(); ++i) {
    Series a{r.methods[i].name, {}, {}, kColors[i % 6]}, b = a;
    for (const auto& row : r.methods[i].rows) {
      a.x.push_back(row.scored_fraction);
      a.y.push_back(row.recall);
      b.x.push_back(row.qps);
      b.y.push_back(row.recall);
    }
    scored.series.push_back(a);
    speed.series.push_back(b);
  }
  return render_svg(title, {scored, speed});
}

}  // namespace ra::tools
