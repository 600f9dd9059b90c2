#pragma once
// Build step 0: hub keys, the few keys that a large share of the training queries rank among
// their best (a head's attention sinks: on the real MiniLM head the 256 [CLS] keys hold 93% of
// the test queries' top-100). Every search scores them exactly, like the dense sink set of
// retrieval attention, and the graph is built from the training queries' lists with the hubs
// taken out: otherwise every list is mostly hubs, the projection links keys only through them
// and most keys get no query-guided edge at all.
#include <cstdint>
#include <span>
#include <vector>

#include "index/types.h"

namespace ra {

/// Keys present in at least `min_share` of the num_lists x k lists `knn` (best first), most
/// frequent first, at most `max_hubs`; returned sorted by id.
std::vector<NodeId> find_hubs(std::span<const NodeId> knn, std::size_t k, std::size_t num_keys,
                              double min_share, std::size_t max_hubs);

/// Each k_in list of `knn` without the ids in `sorted_hubs`, cut to k_out (k_out <= k_in -
/// hubs.size(), so a list never runs short): num_lists x k_out ids, order kept.
std::vector<NodeId> drop_hubs(std::span<const NodeId> knn, std::size_t k_in,
                              std::span<const NodeId> sorted_hubs, std::size_t k_out);

}  // namespace ra
