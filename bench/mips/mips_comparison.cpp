#include "bench/mips/mips_comparison.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "index/graph_index.h"
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

// The sweep values: from k up to 8k, about 1.3x apart.
std::vector<std::uint32_t> widths(std::uint32_t k) {
  std::vector<std::uint32_t> w;
  for (double f : {1.0, 1.3, 1.6, 2.0, 2.6, 3.2, 4.0, 5.0, 6.4, 8.0}) {
    const auto v = static_cast<std::uint32_t>(std::lround(f * std::max<std::uint32_t>(k, 10)));
    if (w.empty() || v > w.back()) w.push_back(v);
  }
  return w;
}

// Every method's rows come from measure_queries; keys scored are counted in a serial pass over
// the first 200 queries, since faiss keeps its counts in one global counter.
MipsRow as_row(std::string param, const SweepRow& r) {
  return {std::move(param), r.recall, r.scored_mean, r.scored_fraction, r.qps, r.latency_us_p99};
}

MipsRow measure(const std::string& param, const QuerySearch& search, const Matrix& queries,
                const IdMatrix& truth, std::uint32_t k, std::uint32_t threads, std::size_t n) {
  return as_row(param, measure_queries(search, queries.view(), truth, k, threads, n, 200));
}

Result<MipsMethod> run_flat(const Matrix& keys, const Matrix& queries, const IdMatrix& truth,
                            const MipsBenchOptions& o) {
  RA_ASSIGN_OR_RETURN(const SweepRow r, exact_scan_row(keys.view(), queries.view(), truth, o.k, o.threads));
  return MipsMethod{"flat (exact)", 0, keys.bytes(), {as_row("exact", r)}};
}

Result<MipsMethod> run_graph(const Matrix& keys, const Matrix& train, const Matrix& queries, const IdMatrix& truth,
                             const MipsBenchOptions& o) {
  BuildConfig cfg;
  cfg.max_degree = o.degree;
  const auto t0 = Clock::now();
  RA_ASSIGN_OR_RETURN(auto index, GraphIndex::build(keys.view(), train.view(), cfg));
  MipsMethod m{"query-guided graph (ours)", seconds_since(t0), index->memory_bytes(), {}};
  std::vector<SearchContext> contexts;
  for (std::uint32_t t = 0; t < std::max<std::uint32_t>(o.threads, 1); ++t) contexts.push_back(index->make_context());
  for (std::uint32_t beam : widths(o.k)) {
    const SearchParams p{o.k, beam, 1};
    m.rows.push_back(measure("beam=" + std::to_string(beam), [&](const float* q, Label* ids) {
      SearchStats st;
      thread_local std::vector<float> sc;
      sc.resize(o.k);
      (void)index->search_one(q, p, contexts[static_cast<std::size_t>(omp_get_thread_num())], ids, sc.data(), &st);
      return st;
    }, queries, truth, o.k, o.threads, keys.rows()));
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
#pragma omp parallel for schedule(dynamic, 256)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(keys.rows()); ++i) {
    index.addPoint(keys.f32_row(static_cast<std::size_t>(i)), static_cast<hnswlib::labeltype>(i));
  }
  MipsMethod m{"hnswlib HNSW (IP, on keys)", seconds_since(t0),
               index.max_elements_ * index.size_data_per_element_, {}};
  for (std::uint32_t ef : widths(o.k)) {
    index.setEf(ef);
    m.rows.push_back(measure("ef=" + std::to_string(ef), [&](const float* q, Label* ids) {
      const std::uint64_t before = g_hnswlib_evals;
      auto top = index.searchKnn(q, o.k);
      for (std::size_t j = top.size(); j-- > 0;) {
        ids[j] = static_cast<Label>(top.top().second);
        top.pop();
      }
      return SearchStats{g_hnswlib_evals - before, 0};
    }, queries, truth, o.k, o.threads, keys.rows()));
  }
  return m;
}
#endif

#if RA_WITH_FAISS
MipsMethod run_faiss_hnsw(const Matrix& keys, const Matrix& queries, const IdMatrix& truth, const MipsBenchOptions& o) {
  const auto t0 = Clock::now();
  faiss::IndexHNSWFlat index(static_cast<int>(keys.dim()), static_cast<int>(o.degree), faiss::METRIC_INNER_PRODUCT);
  index.hnsw.efConstruction = 200;
  index.add(static_cast<faiss::Index::idx_t>(keys.rows()), keys.f32_row(0));
  MipsMethod m{"faiss IndexHNSWFlat (IP)", seconds_since(t0),
               keys.bytes() + index.hnsw.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t), {}};
  for (std::uint32_t ef : widths(o.k)) {
    index.hnsw.efSearch = static_cast<int>(ef);
    m.rows.push_back(measure("ef=" + std::to_string(ef), [&](const float* q, Label* ids) {
      std::vector<float> d(o.k);
      std::vector<faiss::Index::idx_t> l(o.k);
      faiss::hnsw_stats.reset();
      index.search(1, q, o.k, d.data(), l.data());
      std::copy(l.begin(), l.end(), ids);
      return SearchStats{faiss::hnsw_stats.n3, 0};  // faiss 1.7 counts distances in n3
    }, queries, truth, o.k, o.threads, keys.rows()));
  }
  return m;
}

MipsMethod run_faiss_ivf(const Matrix& keys, const Matrix& queries, const IdMatrix& truth, const MipsBenchOptions& o) {
  const auto nlist = static_cast<std::size_t>(std::max(16.0, 4.0 * std::sqrt(static_cast<double>(keys.rows()))));
  const auto t0 = Clock::now();
  faiss::IndexFlatIP quantizer(static_cast<int>(keys.dim()));
  faiss::IndexIVFFlat index(&quantizer, keys.dim(), nlist, faiss::METRIC_INNER_PRODUCT);
  index.train(static_cast<faiss::Index::idx_t>(std::min<std::size_t>(keys.rows(), 64 * nlist)), keys.f32_row(0));
  index.add(static_cast<faiss::Index::idx_t>(keys.rows()), keys.f32_row(0));
  MipsMethod m{"faiss IndexIVFFlat (IP, nlist=" + std::to_string(nlist) + ")", seconds_since(t0),
               keys.bytes() + keys.rows() * sizeof(faiss::Index::idx_t) + nlist * keys.dim() * sizeof(float), {}};
  for (std::size_t nprobe = 1; nprobe <= std::min<std::size_t>(nlist, 1024); nprobe *= 2) {
    index.nprobe = nprobe;
    m.rows.push_back(measure("nprobe=" + std::to_string(nprobe), [&](const float* q, Label* ids) {
      std::vector<float> d(o.k);
      std::vector<faiss::Index::idx_t> l(o.k);
      faiss::indexIVF_stats.reset();
      index.search(1, q, o.k, d.data(), l.data());
      std::copy(l.begin(), l.end(), ids);
      return SearchStats{faiss::indexIVF_stats.ndis + nlist, 0};  // lists scanned + centroids
    }, queries, truth, o.k, o.threads, keys.rows()));
  }
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
  MipsBenchReport r{keys.rows(), keys.dim(), queries.rows(), o.k, std::max<std::uint32_t>(o.threads, 1), {}, {}};
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
  for (const auto& s : r.skipped) out += "skipped: " + s + "\n";
  return out;
}

std::string mips_json(const MipsBenchReport& r) {
  nlohmann::json j = {{"n", r.n}, {"dim", r.dim}, {"k", r.k}, {"threads", r.threads},
                      {"methods", nlohmann::json::array()}, {"skipped", r.skipped}};
  for (const auto& m : r.methods) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : m.rows) {
      rows.push_back({{"param", row.param}, {"recall", row.recall}, {"scored_fraction", row.scored_fraction},
                      {"qps", row.qps}, {"latency_us_p99", row.latency_us_p99}});
    }
    j["methods"].push_back({{"name", m.name}, {"build_s", m.build_s}, {"memory_bytes", m.memory_bytes}, {"rows", rows}});
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
