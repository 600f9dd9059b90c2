#pragma once
// Runs an index over a set of queries at several beam widths (probes) and measures each: recall@k
// against exact ground truth, keys scored, QPS and per-query latency.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "index/graph_index.h"
#include "index/partition_index.h"
#include "index/vector_io.h"

namespace ra::tools {

struct SweepRow {
  std::uint32_t beam = 0;
  double recall = 0;           // recall@k
  double scored_mean = 0;      // keys scored per query
  double scored_fraction = 0;  // scored_mean / n
  double hops_mean = 0;
  double qps = 0;
  double latency_us_mean = 0, latency_us_p99 = 0;
};

/// One query's search: writes k ids, best first, and returns the work it did (keys scored,
/// hops). Called from `threads` threads at once when threads > 1.
using QuerySearch = std::function<SearchStats(const float* query, Label* ids)>;

/// Checks that `truth` can grade searches of `queries` over `keys`: queries f32 of the keys'
/// dimension, at least one row per query and k ids per row, every id a key, and (on up to 8
/// evenly spaced queries) each row's first id a best-scoring key, so that truth computed for
/// other data is refused instead of giving a meaningless recall.
Status check_truth(const MatrixView& keys, const MatrixView& queries, const IdMatrix& truth, std::uint32_t k);

/// Times `search` on every query (with no parallel region at all for one thread: faiss opens
/// its own, and nested in ours each costs milliseconds) for recall@k against `truth`, QPS and
/// latency. The work per query is averaged over the same pass, or, when `count_queries` > 0,
/// over a serial pass on that many queries (for libraries that count in one global counter).
/// `n` is the number of keys, for scored_fraction.
SweepRow measure_queries(const QuerySearch& search, const MatrixView& queries, const IdMatrix& truth,
                         std::uint32_t k, std::uint32_t threads, std::size_t n,
                         std::size_t count_queries = 0);

/// One row per beam (each >= k). `threads` search threads (0: all); latencies are per query.
/// Runs check_truth first.
Result<std::vector<SweepRow>> sweep_beams(const GraphIndex& index, const MatrixView& queries,
                                          const IdMatrix& truth, std::uint32_t k,
                                          const std::vector<std::uint32_t>& beams,
                                          std::uint32_t threads);

/// One row per probe count (lists scanned; SweepRow::beam holds it), each at `reorder` exact
/// rescores (0: 4k). Runs check_truth first.
Result<std::vector<SweepRow>> sweep_probes(const PartitionIndex& index, const MatrixView& queries,
                                           const IdMatrix& truth, std::uint32_t k,
                                           const std::vector<std::uint32_t>& probes, std::uint32_t reorder,
                                           std::uint32_t threads);

/// The exact scan of the same keys as a baseline row (beam 0): every key scored, recall 1,
/// queries searched one at a time so that latencies compare with the graph's.
Result<SweepRow> exact_scan_row(const MatrixView& keys, const MatrixView& queries,
                                const IdMatrix& truth, std::uint32_t k, std::uint32_t threads);

/// Exact top-k of `queries` over `keys` as ground truth.
Result<IdMatrix> exact_truth(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                             std::uint32_t threads = 0);

/// The p-th percentile (0..100) of `values` (sorted in place).
double percentile(std::vector<double>& values, double p);

}  // namespace ra::tools
