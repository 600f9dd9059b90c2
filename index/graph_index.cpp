#include "index/graph_index.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "index/api_guard.h"
#include "index/beam_search.h"
#include "index/graph_build/connectivity.h"
#include "index/graph_build/hubs.h"
#include "index/graph_build/insert.h"
#include "index/graph_build/link.h"
#include "index/graph_build/projection.h"
#include "index/graph_build/prune.h"
#include "index/graph_build/query_knn.h"
#include "index/graph_build/self_tune.h"
#include "index/recall.h"
#include "index/threading.h"
#include "simd/inner_product.h"

namespace ra {
namespace {

using Clock = std::chrono::steady_clock;

// Self-tuning holds out kHeldOut training queries when there are at least kMinTuneQueries.
constexpr std::size_t kHeldOut = 200, kMinTuneQueries = 2000;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Status check_query_row(const float* q, std::size_t dim) {
  for (std::size_t c = 0; c < dim; ++c) {
    if (!std::isfinite(q[c])) {
      return Status::InvalidArgument("query has a non-finite value at column " + std::to_string(c));
    }
  }
  return Status::OK();
}

// The f32 rows row_of(0), ..., row_of(count - 1) of `src`, copied into a dense matrix.
template <typename RowOf>
Result<Matrix> copy_rows(const MatrixView& src, std::size_t count, const RowOf& row_of) {
  RA_ASSIGN_OR_RETURN(Matrix out, Matrix::zeros(count, src.dim));
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(out.f32_row(i), src.f32_row(row_of(i)), src.dim * sizeof(float));
  }
  return out;
}

// The build's exact kNN: the configured one (e.g. on the GPU) or the CPU scan.
Status solve_exact(const BuildConfig& cfg, const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                   std::vector<NodeId>* knn) {
  if (cfg.exact_knn) return cfg.exact_knn(keys, queries, k, knn);
  return exact_query_knn(keys, queries, k, cfg.num_threads, knn);
}

// The training-query kNN of every query by `solve` (queries, k, out), in about ten chunks, each
// a whole parallel solve, reporting the share done between them. The lists do not depend on
// the chunks; a chunk holds whole groups of the clustered kNN for every thread (smaller groups
// would pass over the clusters more often: 10% slower at 131072 keys).
template <class Solve>
Status solve_reporting(const BuildConfig& cfg, const MatrixView& queries, std::uint32_t k, const Solve& solve,
                       std::vector<NodeId>* knn) {
  const std::size_t unit = kClusteredKnnGroup * static_cast<std::size_t>(resolve_threads(cfg.num_threads));
  const std::size_t m = queries.rows, chunk = std::max<std::size_t>(unit, ((m + 9) / 10 + unit - 1) / unit * unit);
  if (m <= chunk) return solve(queries, k, knn);
  knn->resize(m * k);
  std::vector<NodeId> part;
  for (std::size_t q0 = 0; q0 < m; q0 += chunk) {
    if (q0 > 0) cfg.report_progress("training-query kNN", static_cast<double>(q0) / static_cast<double>(m));
    const std::size_t q1 = std::min(m, q0 + chunk);
    RA_RETURN_IF_ERROR(solve(queries.slice_rows(q0, q1), k, &part));
    std::copy(part.begin(), part.end(), knn->begin() + static_cast<std::ptrdiff_t>(q0 * k));
  }
  return Status::OK();
}

// Recall of an approximate training-query kNN (m x kq) on 200 evenly spaced queries, each
// moved off multiples of `exact_stride` (rows solved exactly, when > 1), against their exact kNN.
Result<double> sampled_knn_recall(const BuildConfig& cfg, const MatrixView& keys, const MatrixView& train_queries,
                                  const std::vector<NodeId>& knn, std::uint32_t kq, std::size_t exact_stride) {
  const std::size_t m = train_queries.rows, check = std::min<std::size_t>(200, m);
  RA_ASSIGN_OR_RETURN(Matrix held_out, Matrix::zeros(check, keys.dim));
  std::vector<NodeId> approx(check * kq), exact;
  for (std::size_t i = 0; i < check; ++i) {
    std::size_t r = i * m / check;
    if (r % exact_stride == 0 && exact_stride > 1) r = std::min(r + 1, m - 1);  // outside the sample
    std::memcpy(held_out.f32_row(i), train_queries.f32_row(r), keys.dim * sizeof(float));
    std::copy_n(knn.begin() + static_cast<std::ptrdiff_t>(r * kq), kq, approx.begin() + static_cast<std::ptrdiff_t>(i * kq));
  }
  RA_RETURN_IF_ERROR(solve_exact(cfg, keys, held_out.view(), kq, &exact));
  return recall_at_k<NodeId, NodeId>(approx, kq, exact, kq, kq);
}

// Bootstrap kNN: exact for an evenly spaced sample of the training queries (at most
// bootstrap_max_exact), a graph from that sample, then every query by beam search on it; the
// sample's own rows stay exact. *recall is measured against the exact kNN of held-out queries.
Status bootstrap_knn(const MatrixView& keys, const MatrixView& train_queries, std::uint32_t kq,
                     const BuildConfig& cfg, std::vector<NodeId>* knn, double* recall) {
  const std::size_t m = train_queries.rows;
  const auto stride = std::max<std::size_t>(
      static_cast<std::size_t>(std::max(1.0, std::round(1.0 / cfg.bootstrap_fraction))),
      (m + cfg.bootstrap_max_exact - 1) / cfg.bootstrap_max_exact);
  RA_ASSIGN_OR_RETURN(Matrix sample, copy_rows(train_queries, (m + stride - 1) / stride,
                                               [&](std::size_t i) { return i * stride; }));
  std::vector<NodeId> sample_knn;
  RA_RETURN_IF_ERROR(solve_exact(cfg, keys, sample.view(), kq, &sample_knn));
  RA_ASSIGN_OR_RETURN(auto boot, GraphIndex::build_from_knn(keys, sample_knn, kq, choose_entry(keys, sample.view()),
                                                            cfg, KeyOwnership::kReference, nullptr));
  SearchResults found;
  SearchParams sp{kq, std::max(cfg.build_beam, kq), cfg.num_threads};
  RA_RETURN_IF_ERROR(boot->search(train_queries, sp, &found));
  knn->resize(found.ids.size());
  std::transform(found.ids.begin(), found.ids.end(), knn->begin(),
                 [](Label id) { return static_cast<NodeId>(id); });
  for (std::size_t i = 0; i < sample.rows(); ++i) {  // the sample's rows are exact
    std::copy_n(sample_knn.begin() + static_cast<std::ptrdiff_t>(i * kq), kq,
                knn->begin() + static_cast<std::ptrdiff_t>(i * stride * kq));
  }
  RA_ASSIGN_OR_RETURN(*recall, sampled_knn_recall(cfg, keys, train_queries, *knn, kq, stride));
  return Status::OK();
}

// The evenly spaced sample of training queries (at most kHubSample) whose exact kNN finds the
// hubs (a hub is common by definition, so a sample finds it; the cost is a few percent of the
// full kNN) and grades the clustered kNN before it runs on every query.
constexpr std::size_t kHubSample = 4096;

// Hubs from the sample's exact top-Kq (at least 16 lists; at most 1/kMaxHubFraction of the
// keys, so hubs cost a search little).
std::vector<NodeId> detect_hubs(std::span<const NodeId> sample_knn, std::uint32_t kq, std::size_t n,
                                const BuildConfig& cfg) {
  const std::size_t max_hubs = std::min<std::size_t>(cfg.max_hubs, n / kMaxHubFraction);
  if (max_hubs == 0) return {};
  // A hub is also in at least 8x the share of lists an average key is in (Kq / n): on a
  // small index a key in 2% of the lists may be only a little popular.
  const double share = std::max(cfg.hub_share, 8.0 * kq / static_cast<double>(n));
  return find_hubs(sample_knn, kq, n, share, max_hubs);
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::uint64_t process_peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace

NodeId choose_entry(const MatrixView& keys, const MatrixView& train_queries) {
  std::vector<double> sum(keys.dim, 0.0);
  for (std::size_t i = 0; i < train_queries.rows; ++i) {
    const float* q = train_queries.f32_row(i);
    for (std::size_t c = 0; c < keys.dim; ++c) sum[c] += q[c];
  }
  std::vector<float> mean(keys.dim);
  for (std::size_t c = 0; c < keys.dim; ++c) {
    mean[c] = static_cast<float>(sum[c] / static_cast<double>(std::max<std::size_t>(1, train_queries.rows)));
  }
  std::vector<float> scores(keys.rows);
  simd::dot_rows(mean.data(), keys.data, keys.dtype, keys.stride, keys.rows, keys.dim, scores.data());
  return static_cast<NodeId>(std::max_element(scores.begin(), scores.end()) - scores.begin());
}

GraphIndex::GraphIndex() = default;
GraphIndex::~GraphIndex() = default;

Result<std::unique_ptr<GraphIndex>> GraphIndex::assemble(const MatrixView& keys, KeyOwnership own,
                                                         const BuildConfig& cfg) {
  RA_RETURN_IF_ERROR(cfg.validate());
  RA_RETURN_IF_ERROR(validate_matrix(keys, "keys"));
  if (keys.rows > std::numeric_limits<NodeId>::max()) {
    return Status::InvalidArgument("too many keys for 32-bit node ids");
  }
  std::unique_ptr<GraphIndex> idx(new GraphIndex());
  idx->cfg_ = cfg;
  if (own == KeyOwnership::kReference) {
    idx->keys_ = keys;
  } else {
    const std::size_t row_bytes = keys.dim * dtype_size(cfg.storage);
    idx->storage_.resize(keys.rows * row_bytes);
    std::vector<float> row(keys.dim);
    for (std::size_t i = 0; i < keys.rows; ++i) {
      convert_to_f32(keys.row_bytes(i), keys.dtype, keys.dim, row.data());
      convert_from_f32(row.data(), keys.dim, cfg.storage, idx->storage_.data() + i * row_bytes);
    }
    idx->owns_keys_ = true;
    idx->keys_ = {idx->storage_.data(), cfg.storage, keys.rows, keys.dim, keys.dim};
  }
  idx->graph_ = Graph(keys.rows, cfg.max_degree);
  return idx;
}

Result<std::unique_ptr<GraphIndex>> GraphIndex::build(const MatrixView& keys,
                                                      const MatrixView& all_train_queries,
                                                      const BuildConfig& cfg, KeyOwnership ownership,
                                                      BuildReport* report) {
  RA_API_TRY
  const auto t0 = Clock::now();
  RA_RETURN_IF_ERROR(validate_f32_matrix(all_train_queries, "training queries"));
  if (all_train_queries.dim != keys.dim) {
    return Status::InvalidArgument("training queries have dimension " +
                                   std::to_string(all_train_queries.dim) + ", the keys " +
                                   std::to_string(keys.dim));
  }
  RA_ASSIGN_OR_RETURN(auto idx, assemble(keys, ownership, cfg));
  const auto kq = static_cast<std::uint32_t>(std::min<std::size_t>(cfg.query_knn, keys.rows));
  BuildReport local;
  const double cpu0 = process_cpu_seconds();
  Matrix sampled;  // evenly spaced training queries, when there are more than max_train_queries
  if (cfg.max_train_queries > 0 && all_train_queries.rows > cfg.max_train_queries) {
    const std::size_t m = all_train_queries.rows, count = cfg.max_train_queries;
    RA_ASSIGN_OR_RETURN(sampled, copy_rows(all_train_queries, count, [&](std::size_t i) { return i * m / count; }));
  }
  const MatrixView train_queries = sampled.rows() ? sampled.view() : all_train_queries;
  local.train_used = train_queries.rows;
  local.knn_device = cfg.exact_knn ? cfg.exact_knn_device : std::string();
  local.knn_mode = train_queries.rows < 2 ? KnnMode::kExact
                                          : resolve_knn_mode(cfg.knn_mode, keys.rows, train_queries.rows, cfg.auto_exact_pairs);
  const bool want_hubs = cfg.max_hubs > 0 && train_queries.rows >= 16;
  std::optional<ClusteredKnn> clustered;
  if (want_hubs || local.knn_mode == KnnMode::kClustered) {
    const std::size_t m = train_queries.rows, s = std::min(m, kHubSample);
    RA_ASSIGN_OR_RETURN(Matrix sample, copy_rows(train_queries, s, [&](std::size_t i) { return i * m / s; }));
    std::vector<NodeId> sample_knn;
    cfg.report_progress("hubs");
    RA_RETURN_IF_ERROR(solve_exact(cfg, idx->keys_, sample.view(), kq, &sample_knn));
    if (want_hubs) idx->hubs_ = detect_hubs(sample_knn, kq, keys.rows, cfg);
    if (local.knn_mode == KnnMode::kClustered) {
      // The clustered kNN is graded on the sample first; in auto mode a low recall (keys that
      // sit in clusters whose centroids do not score, as on the real MiniLM head) doubles the
      // probe share, and means exact where even kMaxAutoProbeShare does not reach it.
      cfg.report_progress("partitions");
      RA_ASSIGN_OR_RETURN(clustered, ClusteredKnn::over(idx->keys_, cfg.num_threads));
      std::vector<NodeId> approx;
      for (local.probe_share = cfg.probe_share;; local.probe_share *= 2) {
        RA_RETURN_IF_ERROR(clustered->solve(sample.view(), kq, local.probe_share, &approx));
        local.knn_recall = recall_at_k<NodeId, NodeId>(approx, kq, sample_knn, kq, kq);
        if (cfg.knn_mode != KnnMode::kAuto || local.knn_recall >= kMinClusteredRecall ||
            local.probe_share * 2 > kMaxAutoProbeShare) {
          break;
        }
      }
      if (cfg.knn_mode == KnnMode::kAuto && local.knn_recall < kMinClusteredRecall) {
        local.clustered_recall = local.knn_recall;
        local.knn_recall = 1.0;
        local.knn_mode = KnnMode::kExact;
        clustered.reset();
      }
    }
  }
  // With hubs, each list is solved Kq + hubs deep and the hubs taken out, so every list still
  // holds Kq keys of the graph.
  const std::size_t hubs = idx->hubs_.size();
  const auto k_solve = static_cast<std::uint32_t>(std::min<std::size_t>(kq + hubs, keys.rows));
  const auto k_graph = static_cast<std::uint32_t>(std::min<std::size_t>(kq, keys.rows - hubs));
  std::vector<NodeId> knn;
  cfg.report_progress("training-query kNN");
  if (local.knn_mode == KnnMode::kExact) {
    const auto exact = [&](const MatrixView& q, std::uint32_t k, std::vector<NodeId>* out) {
      return solve_exact(cfg, idx->keys_, q, k, out);
    };
    RA_RETURN_IF_ERROR(solve_reporting(cfg, train_queries, k_solve, exact, &knn));
  } else if (local.knn_mode == KnnMode::kClustered) {
    const auto approx = [&](const MatrixView& q, std::uint32_t k, std::vector<NodeId>* out) {
      return clustered->solve(q, k, local.probe_share, out);
    };
    RA_RETURN_IF_ERROR(solve_reporting(cfg, train_queries, k_solve, approx, &knn));
  } else {
    RA_RETURN_IF_ERROR(bootstrap_knn(idx->keys_, train_queries, k_solve, cfg, &knn, &local.knn_recall));
  }
  // Self-tuning (only when there is a choice: hubs were found) holds out evenly spaced
  // training queries: their lists stay out of the build, which they then grade.
  const std::size_t m = train_queries.rows;
  std::vector<std::size_t> held;
  if (cfg.self_tune && hubs > 0 && m >= kMinTuneQueries) {
    for (std::size_t i = 0; i < kHeldOut; ++i) held.push_back(i * m / kHeldOut + m / (2 * kHeldOut));
    std::vector<NodeId> kept;
    kept.reserve((m - held.size()) * k_solve);
    for (std::size_t q = 0, h = 0; q < m; ++q) {
      if (h < held.size() && held[h] == q) {
        ++h;
        continue;
      }
      kept.insert(kept.end(), knn.begin() + static_cast<std::ptrdiff_t>(q * k_solve),
                  knn.begin() + static_cast<std::ptrdiff_t>((q + 1) * k_solve));
    }
    knn.swap(kept);
  }
  const std::vector<NodeId> plain_lists = held.empty() ? std::vector<NodeId>{} : drop_hubs(knn, k_solve, {}, kq);
  if (hubs > 0) knn = drop_hubs(knn, k_solve, idx->hubs_, k_graph);
  const NodeId main_entry = choose_entry(idx->keys_, train_queries);
  NodeId entry = main_entry;
  if (std::binary_search(idx->hubs_.begin(), idx->hubs_.end(), entry)) entry = knn.front();
  RA_RETURN_IF_ERROR(idx->link_from_knn(knn, k_graph, entry, &local));
  if (!held.empty()) {
    cfg.report_progress("self-tuning");
    const auto t_tune = Clock::now();
    const auto k_eval = std::min<std::uint32_t>(kq, 100);
    RA_ASSIGN_OR_RETURN(Matrix held_q, copy_rows(train_queries, held.size(), [&](std::size_t i) { return held[i]; }));
    std::vector<NodeId> truth;
    RA_RETURN_IF_ERROR(solve_exact(cfg, idx->keys_, held_q.view(), k_eval, &truth));
    BuildConfig plain_cfg = cfg;
    plain_cfg.max_hubs = 0;
    RA_ASSIGN_OR_RETURN(auto plain, assemble(idx->keys_, KeyOwnership::kReference, plain_cfg));
    BuildReport plain_report;
    RA_RETURN_IF_ERROR(plain->link_from_knn(plain_lists, kq, main_entry, &plain_report));
    RA_ASSIGN_OR_RETURN(const HeldOutCurve with_hubs, held_out_curve(*idx, held_q.view(), truth, k_eval));
    RA_ASSIGN_OR_RETURN(const HeldOutCurve without, held_out_curve(*plain, held_q.view(), truth, k_eval));
    const bool keep_hubs = !better_curve(without, with_hubs);
    if (!keep_hubs) {  // the graph without hubs, over the same keys
      const BuildReport step1 = local;  // the kNN step is common to both graphs
      local = plain_report;
      local.knn_mode = step1.knn_mode;
      local.knn_recall = step1.knn_recall;
      local.clustered_recall = step1.clustered_recall;
      local.probe_share = step1.probe_share;
      local.train_used = step1.train_used;
      idx->graph_ = std::move(plain->graph_);
      idx->entries_ = std::move(plain->entries_);
      idx->pruner_ = std::move(plain->pruner_);
      idx->hubs_.clear();
      idx->cfg_.max_hubs = 0;
    }
    local.held_out = held.size();
    local.tune_scored_hubs = with_hubs.scored_at_target;
    local.tune_scored_plain = without.scored_at_target;
    std::copy_n((keep_hubs ? with_hubs : without).beam_at, 3, local.tune_beam);
    local.tune_s = seconds_since(t_tune);
  }
  local.knn_s = seconds_since(t0) - local.projection_s - local.reverse_s - local.connectivity_s - local.tune_s;
  local.total_s = seconds_since(t0);
  local.cpu_s = process_cpu_seconds() - cpu0;
  local.peak_rss_bytes = process_peak_rss_bytes();
  if (report != nullptr) *report = local;
  return idx;
  RA_API_CATCH("graph build")
}

Result<std::unique_ptr<GraphIndex>> GraphIndex::build_from_knn(
    const MatrixView& keys, std::span<const NodeId> knn, std::size_t knn_k, NodeId entry_hint,
    const BuildConfig& cfg, KeyOwnership ownership, BuildReport* report) {
  RA_API_TRY
  RA_ASSIGN_OR_RETURN(auto idx, assemble(keys, ownership, cfg));
  const std::size_t n = keys.rows;
  if (knn_k == 0 || knn.size() % knn_k != 0 || knn.empty()) {
    return Status::InvalidArgument("the kNN must be a non-empty num_train x knn_k block");
  }
  for (NodeId id : knn) {
    if (id >= n) return Status::InvalidArgument("kNN id " + std::to_string(id) + " >= n");
  }
  if (entry_hint >= n) return Status::InvalidArgument("entry point out of range");
  BuildReport local;
  RA_RETURN_IF_ERROR(idx->link_from_knn(knn, knn_k, entry_hint, &local));
  if (report != nullptr) *report = local;
  return idx;
  RA_API_CATCH("graph build")
}

Status GraphIndex::link_from_knn(std::span<const NodeId> knn, std::size_t knn_k, NodeId entry,
                                 BuildReport* report) {
  const int threads = resolve_threads(cfg_.num_threads);
  const std::size_t n = keys_.rows;
  BuildReport& local = *report;
  auto t = Clock::now();
  cfg_.report_progress("projection");
  pruner_ = std::make_unique<Pruner>(keys_, cfg_.max_degree, threads);
  RA_ASSIGN_OR_RETURN(local.pivots, project_queries(knn, knn_k, *pruner_, threads, &graph_));
  local.projection_s = seconds_since(t);
  t = Clock::now();
  cfg_.report_progress("reverse edges");
  RA_RETURN_IF_ERROR(add_reverse_edges(*pruner_, threads, &graph_));
  local.reverse_s = seconds_since(t);
  t = Clock::now();
  entries_ = {entry};
  const std::size_t num_queries = knn.size() / knn_k;
  for (std::size_t i = 0; i < cfg_.num_entries && entries_.size() < cfg_.num_entries; ++i) {
    const NodeId pivot = knn[(i * num_queries / cfg_.num_entries) * knn_k];
    if (std::find(entries_.begin(), entries_.end(), pivot) == entries_.end()) {
      entries_.push_back(pivot);
    }
  }
  cfg_.report_progress("connectivity");
  RA_ASSIGN_OR_RETURN(const ConnectivityReport conn,
                      repair_reachability(keys_, *pruner_, entries_, hubs_, cfg_.build_beam,
                                          threads, &graph_));
  local.connectivity_s = seconds_since(t);
  local.zero_out_degree = conn.zero_out_degree;
  local.repaired = conn.repaired;
  local.unreachable = conn.unreachable;
  local.hubs = hubs_.size();
  local.edges = graph_.num_edges();
  local.mean_degree = static_cast<double>(local.edges) / static_cast<double>(n);
  const auto& deg = graph_.degrees();
  local.min_degree = *std::min_element(deg.begin(), deg.end());
  local.max_degree = *std::max_element(deg.begin(), deg.end());
  local.graph_bytes = graph_.slots().size() * sizeof(NodeId) + deg.size() * sizeof(std::uint32_t) +
                      hubs_.size() * sizeof(NodeId);
  local.vector_bytes = owns_keys_ ? storage_.size() : 0;
  return Status::OK();
}

std::uint64_t GraphIndex::memory_bytes() const noexcept {
  return graph_.slots().size() * sizeof(NodeId) + graph_.degrees().size() * sizeof(std::uint32_t) +
         hubs_.size() * sizeof(NodeId) + storage_.size() + size() * sizeof(float) +  // + the pruner's key.mean products
         (link_state_ ? link_state_->indegree.size() * (sizeof(std::uint32_t) + sizeof(NodeId))
                      : 0);  // + insertion's state (in-degree, parent), once keys were inserted
}

SearchContext GraphIndex::make_context() const {
  SearchContext ctx;
  SearchScratch& s = ctx.scratch();
  s.next_query(size());
  const std::size_t hop = std::max<std::size_t>(graph_.max_degree(), entries_.size());
  s.ids.resize(hop);
  s.scores.resize(std::max(hop, hubs_.size()));  // a hop's neighbours' scores, or the hubs'
  s.hub_best.resize(hubs_.size());
  return ctx;
}

Status GraphIndex::search_one(const float* query, const SearchParams& p, SearchContext& ctx,
                              Label* ids, float* scores, SearchStats* stats) const {
  RA_API_TRY
  RA_RETURN_IF_ERROR(p.validate(size(), true, hubs_.size()));
  RA_RETURN_IF_ERROR(check_query_row(query, dim()));
  SearchScratch& s = ctx.scratch();
  beam_search(graph_, keys_, query, entries_, p.beam, s, stats);
  // The hubs (outside the graph, so never in the pool) are scored exactly; the result is the
  // best k of both sorted lists.
  std::size_t hub_found = 0;
  if (!hubs_.empty()) {
    const std::size_t h = hubs_.size();
    if (s.scores.size() < h) s.scores.resize(h);
    if (s.hub_best.size() < h) s.hub_best.resize(h);
    simd::dot_gather(query, keys_.data, keys_.dtype, keys_.stride, hubs_.data(), h, keys_.dim,
                     s.scores.data());
    for (std::size_t i = 0; i < h; ++i) s.hub_best[i] = {s.scores[i], hubs_[i], true};
    hub_found = std::min<std::size_t>(p.k, h);
    std::partial_sort(s.hub_best.begin(), s.hub_best.begin() + static_cast<std::ptrdiff_t>(hub_found),
                      s.hub_best.begin() + static_cast<std::ptrdiff_t>(h), CandidatePool::Before{});
    if (stats != nullptr) stats->score_evals += h;
    if (s.scored_log != nullptr) s.scored_log->insert(s.scored_log->end(), hubs_.begin(), hubs_.end());
  }
  std::size_t a = 0, b = 0;  // cursors in the pool and in the hubs
  for (std::size_t i = 0; i < p.k; ++i) {
    const bool have_a = a < s.pool.size(), have_b = b < hub_found;
    const bool take_b = have_b && (!have_a || CandidatePool::before(s.hub_best[b], s.pool[a]));
    if (take_b) {
      ids[i] = static_cast<Label>(s.hub_best[b].id);
      scores[i] = s.hub_best[b++].score;
    } else if (have_a) {
      ids[i] = static_cast<Label>(s.pool[a].id);
      scores[i] = s.pool[a++].score;
    } else {
      ids[i] = kNoLabel;
      scores[i] = -std::numeric_limits<float>::infinity();
    }
  }
  return Status::OK();
  RA_API_CATCH("search")
}

Status GraphIndex::search(const MatrixView& queries, const SearchParams& p, SearchResults* out,
                          std::vector<SearchStats>* stats) const {
  RA_API_TRY
  RA_RETURN_IF_ERROR(p.validate(size(), true, hubs_.size()));
  RA_RETURN_IF_ERROR(validate_f32_matrix(queries, "queries"));
  if (queries.dim != dim()) {
    return Status::InvalidArgument("queries have dimension " + std::to_string(queries.dim) +
                                   ", the index " + std::to_string(dim()));
  }
  const int threads = resolve_threads(p.num_threads);
  out->num_queries = queries.rows;
  out->k = p.k;
  out->ids.assign(queries.rows * p.k, kNoLabel);
  out->scores.assign(queries.rows * p.k, 0.0f);
  if (stats != nullptr) stats->assign(queries.rows, SearchStats{});
  std::vector<SearchContext> contexts;
  for (int t = 0; t < threads; ++t) contexts.push_back(make_context());
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(queries.rows); ++i) {
    const auto q = static_cast<std::size_t>(i);
    // Cannot fail: parameters, shape and values were validated above.
    (void)search_one(queries.f32_row(q), p, contexts[omp_get_thread_num()],
                     out->ids.data() + q * p.k, out->scores.data() + q * p.k,
                     stats ? &(*stats)[q] : nullptr);
  }
  return Status::OK();
  RA_API_CATCH("batch search")
}

Status GraphIndex::append(const MatrixView& rows) {
  RA_API_TRY
  if (!owns_keys_) return Status::InvalidArgument("append needs an owning index; use extend()");
  RA_RETURN_IF_ERROR(validate_matrix(rows, "appended keys"));
  if (rows.dim != dim()) return Status::InvalidArgument("appended keys have the wrong dimension");
  const std::size_t first = size(), row_bytes = dim() * dtype_size(keys_.dtype);
  try {
    storage_.resize((first + rows.rows) * row_bytes);
    std::vector<float> row(dim());
    for (std::size_t i = 0; i < rows.rows; ++i) {
      convert_to_f32(rows.row_bytes(i), rows.dtype, dim(), row.data());
      convert_from_f32(row.data(), dim(), keys_.dtype, storage_.data() + (first + i) * row_bytes);
    }
    keys_ = {storage_.data(), keys_.dtype, first + rows.rows, dim(), dim()};
  } catch (const std::bad_alloc&) {
    storage_.resize(first * row_bytes);
    return Status::ResourceExhausted("append: out of memory");
  }
  return link_new_keys(first);
  RA_API_CATCH("append")
}

Status GraphIndex::extend(const MatrixView& all_keys) {
  RA_API_TRY
  if (owns_keys_) return Status::InvalidArgument("extend needs a referencing index; use append()");
  if (all_keys.dim != dim() || all_keys.dtype != keys_.dtype) {
    return Status::InvalidArgument("extended keys must keep the dimension and dtype");
  }
  if (all_keys.rows < size()) return Status::InvalidArgument("extend cannot remove keys");
  if (all_keys.data == nullptr || all_keys.stride < all_keys.dim) {
    return Status::InvalidArgument("extended keys: null data or stride below the dimension");
  }
  const std::size_t first = size();
  if (all_keys.rows > first) {
    RA_RETURN_IF_ERROR(validate_matrix(all_keys.slice_rows(first, all_keys.rows), "appended keys"));
  }
  keys_ = all_keys;  // also follows a buffer that moved
  pruner_->extend(keys_);
  return link_new_keys(first);
  RA_API_CATCH("extend")
}

Status GraphIndex::link_new_keys(std::size_t first) {
  const std::size_t last = keys_.rows;
  if (last == first) return Status::OK();
  if (last > std::numeric_limits<NodeId>::max()) return Status::InvalidArgument("too many keys");
  try {
    // In-degrees and the spanning tree are made once, at the first insertion, then kept current.
    if (!link_state_ || link_state_->indegree.size() != first) {
      link_state_ = std::make_unique<LinkState>(LinkState::of(graph_, entries_.front()));
    }
    graph_.grow(last - first);
    link_state_->indegree.resize(last, 0);
    link_state_->parent.resize(last, kNoParent);
    pruner_->extend(keys_);
    insert_keys(keys_, *pruner_, entries_, cfg_.build_beam, first, *link_state_, &graph_);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("insert: out of memory");
  }
  // Swaps can cut a rare key off (a cycle of in-edges); the full repair runs once the index
  // has grown by a tenth since the last one, so its cost per inserted key stays constant.
  inserted_since_repair_ += last - first;
  if (inserted_since_repair_ * 10 >= last) return repair();
  return Status::OK();
}

Status GraphIndex::repair() {
  RA_API_TRY
  RA_ASSIGN_OR_RETURN(const ConnectivityReport conn,
                      repair_reachability(keys_, *pruner_, entries_, hubs_, cfg_.build_beam,
                                          resolve_threads(cfg_.num_threads), &graph_));
  if (link_state_) *link_state_ = LinkState::of(graph_, entries_.front());
  inserted_since_repair_ = 0;
  if (conn.unreachable > 0) {
    return Status::Internal("repair left " + std::to_string(conn.unreachable) + " keys unreachable");
  }
  return Status::OK();
  RA_API_CATCH("repair")
}

}  // namespace ra
