#pragma once
// Configuration and report of a query-guided graph build.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"
#include "types.h"
#include "../simd/dtype.h"

namespace ra {

/// How the training queries' kNN is found (build step 1).
enum class KnnMode : std::uint8_t {
  kAuto,       // kExact up to kExactKnnPairs keys x training queries, kClustered above unless
               // it finds less than kMinClusteredRecall of a sample's exact kNN at every probe
               // share up to kMaxAutoProbeShare
  kExact,      // exact top-Kq over all keys (blocked scan)
  kBootstrap,  // exact for a sample, then beam search on a graph built from that sample
  kClustered,  // keys partitioned by k-means; each query scores its best probe_share of them
};
/// kAuto's limit: 2^30 pairs (32K keys x 32K queries) take ~4 s exactly on 2 cores.
inline constexpr double kExactKnnPairs = 1073741824.0;
/// kAuto takes the clustered kNN only when it finds at least this share of the exact kNN of
/// the build's sample of training queries, doubling the probe share up to kMaxAutoProbeShare
/// until it does; exact otherwise.
inline constexpr double kMinClusteredRecall = 0.95;
inline constexpr double kMaxAutoProbeShare = 0.3;
/// What kAuto means for n keys and m training queries (exact up to exact_pairs of them); any
/// other mode stands.
KnnMode resolve_knn_mode(KnnMode mode, std::size_t n, std::size_t m, double exact_pairs = kExactKnnPairs) noexcept;
/// "auto", "exact", "bootstrap", "clustered".
std::string_view knn_mode_name(KnnMode mode) noexcept;
/// Parses knn_mode_name's names; false for anything else.
bool parse_knn_mode(std::string_view name, KnnMode* out) noexcept;

struct BuildConfig {
  std::uint32_t max_degree = 32;    // M: out-degree bound of every key
  std::uint32_t query_knn = 100;    // Kq: keys linked through each training query
  std::uint32_t build_beam = 128;   // beam while linking keys by search (repair, insert, bootstrap)
  std::uint32_t num_entries = 64;   // search entry points (scored first by every search)
  KnnMode knn_mode = KnnMode::kAuto;
  double auto_exact_pairs = kExactKnnPairs;  // kAuto: exact up to this many keys x training queries
  /// When set, replaces the CPU exact kNN in every step that needs one (the hub sample, the
  /// training queries in kExact mode, the held-out truth): e.g. gpu::exact_knn. Same contract
  /// as the CPU one: num_queries x k ids, best first.
  std::function<Status(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                       std::vector<NodeId>* knn)>
      exact_knn;
  /// Where exact_knn runs, for the report ("gpu"); empty: the CPU.
  std::string exact_knn_device;
  /// At most this many training queries guide the build (0: all), evenly spaced over the
  /// given ones: neighbouring positions ask nearly the same, and the exact kNN costs m x n.
  std::uint32_t max_train_queries = 0;
  double bootstrap_fraction = 0.1;  // kBootstrap: share of training queries solved exactly
  std::uint32_t bootstrap_max_exact = 16384;  // kBootstrap: at most this many solved exactly
  double probe_share = 0.07;        // kClustered: share of the partitions each query ranks best
  /// Hubs (keys in the top-Kq of at least hub_share of the training queries and of 8 Kq / n,
  /// 8x an average key's share; at most
  /// max_hubs and 1/64 of the keys; 0 turns hubs off) are scored exactly by every search and
  /// left out of the graph, which is built from the training queries' lists without them.
  double hub_share = 0.02;
  std::uint32_t max_hubs = 1024;
  /// With hubs found, the build also makes the graph without them and keeps the one that
  /// reaches recall@min(Kq, 100) 0.95 on held-out training queries with fewer keys scored.
  bool self_tune = true;
  DType storage = DType::kF32;      // how an owning index stores keys (f32 or f16)
  std::uint32_t num_threads = 0;    // 0: all OpenMP threads
  /// Called (from the building thread) as each build step starts (done = 0) and, within the
  /// training-query kNN, as each tenth of the queries is solved (done in (0, 1)); the library
  /// never prints.
  std::function<void(std::string_view step, double done)> progress;

  Status validate() const;
  void report_progress(std::string_view step, double done = 0) const {
    if (progress) progress(step, done);
  }
};

/// What a build did and what it cost. Times in seconds.
struct BuildReport {
  double knn_s = 0, projection_s = 0, reverse_s = 0, connectivity_s = 0, total_s = 0;
  KnnMode knn_mode = KnnMode::kExact;  // the mode used (kAuto resolved)
  std::string knn_device;              // BuildConfig::exact_knn_device when it ran the exact kNN
  double knn_recall = 1.0;            // measured on a sample in kBootstrap / kClustered mode; 1 when exact
  double clustered_recall = 0;        // kAuto fell back to exact: what the clustered kNN reached (else 0)
  double probe_share = 0;             // kClustered: the share of partitions each query probed (kAuto
                                      // fell back to exact: the last share it tried)
  std::uint64_t train_used = 0;       // training queries that guided the build
  double cpu_s = 0;                   // process CPU time (user + system) during the build
  std::uint64_t peak_rss_bytes = 0;   // the process's peak resident memory after the build
  std::uint64_t pivots = 0;           // distinct keys that are some training query's best
  std::uint64_t hubs = 0;             // keys scored exactly by every search, outside the graph
  /// Self-tuning on held_out training queries (kept out of the build): keys scored per query
  /// at recall 0.95 with and without hubs (0: not tried; infinity: not reached), and the
  /// chosen graph's beam for recall 0.90 / 0.95 / 0.99 on them (0: not reached).
  std::uint64_t held_out = 0;
  double tune_scored_hubs = 0, tune_scored_plain = 0;
  std::uint32_t tune_beam[3] = {0, 0, 0};
  double tune_s = 0;
  std::uint64_t edges = 0;
  double mean_degree = 0;
  std::uint32_t min_degree = 0, max_degree = 0;
  std::uint64_t zero_out_degree = 0;  // keys with no out-edge before repair
  std::uint64_t repaired = 0;         // keys linked in because the entry point could not reach them
  std::uint64_t unreachable = 0;      // after repair (0 unless repair failed)
  std::uint64_t graph_bytes = 0, vector_bytes = 0;

  std::string to_string() const;
  /// What self-tuning measured and chose, one line; empty when it did not run.
  std::string tuning() const;
  /// A line of warning when the build left most keys without query-guided edges of their own
  /// (they then hang on repair edges alone and recall suffers); empty when it did not.
  std::string warning(std::size_t num_keys) const;
};

}  // namespace ra
