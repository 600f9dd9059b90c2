#pragma once
// Build step 1: the keys each training query ranks highest.
#include <cstdint>
#include <vector>

#include "index/graph_build/buckets.h"
#include "index/result.h"
#include "index/types.h"

namespace ra {

/// Exact top-k keys of every training query, best first: num_queries x k ids, row-major.
/// Runs the blocked exact scan (FlatIndex) on num_threads threads.
Status exact_query_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                       std::uint32_t num_threads, std::vector<NodeId>* knn);

/// The clustered kNN solves at most this many queries together per thread (their top-k lists:
/// ~26 MB at k = 100); callers that split the queries keep whole groups.
inline constexpr std::size_t kClusteredKnnGroup = 8192;

/// Approximate top-k keys of training queries (same layout as exact_query_knn). The keys are
/// partitioned by k-means (about 128 keys a cluster), once; each query ranks the centroids by
/// inner product and scores exactly the keys of its best `probe_share` of the clusters (more
/// when they hold fewer than k keys). Queries are solved in groups, cluster by cluster, so each
/// (query, cluster) pair is scored once on the block kernel while the cluster stays in cache.
class ClusteredKnn {
 public:
  static Result<ClusteredKnn> over(const MatrixView& keys, std::uint32_t num_threads);
  /// Needs 1 <= k <= keys and probe_share in (0, 1].
  Status solve(const MatrixView& queries, std::uint32_t k, double probe_share, std::vector<NodeId>* knn) const;

  /// The keys grouped by cluster: row r of `rows` is key cluster.values[r], and cluster c's
  /// rows are [cluster.start[c], cluster.start[c + 1]).
  struct Partition {
    Buckets<NodeId> cluster;
    std::vector<std::byte> rows;
    DType dtype = DType::kF32;
    std::size_t dim = 0;
    std::size_t clusters() const noexcept { return cluster.start.size() - 1; }
    MatrixView view() const noexcept { return {rows.data(), dtype, cluster.values.size(), dim, dim}; }
  };

 private:
  std::vector<float> centroids_;  // clusters x dim
  Partition part_;
  int threads_ = 1;
};

}  // namespace ra
