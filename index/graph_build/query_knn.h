#pragma once
// Build step 1: the keys each training query ranks highest.
#include <cstdint>
#include <vector>

#include "index/types.h"

namespace ra {

/// Exact top-k keys of every training query, best first: num_queries x k ids, row-major.
/// Runs the blocked exact scan (FlatIndex) on num_threads threads.
Status exact_query_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                       std::uint32_t num_threads, std::vector<NodeId>* knn);

/// Approximate top-k keys of every training query (same layout). The keys are partitioned by
/// k-means (about 128 keys a cluster); each query ranks the centroids by inner product, and each
/// block of 64 consecutive queries scores exactly the keys of every cluster that is among the
/// best `probe_share` of the clusters for one of its queries. Neighbouring training queries
/// ask much the same, so a block's clusters overlap and the scoring stays on the block kernel.
/// Needs keys.rows >= k.
Status clustered_query_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                           double probe_share, std::uint32_t num_threads, std::vector<NodeId>* knn);

}  // namespace ra
