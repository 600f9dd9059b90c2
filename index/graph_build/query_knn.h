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

}  // namespace ra
