#pragma once
// Insertion: keys appended to a built graph become searchable at once. Each new key searches
// the graph with its centred vector, keeps its pruned results as out-edges, and asks each of
// them for the reverse edge (a full key swaps its least similar neighbour for the new key
// when that neighbour stays reachable otherwise); a key no one took is linked in by link_in.
// A reachability repair closes the rare cycles that edge swaps can cut.
#include <cstdint>
#include <span>
#include <vector>

#include "index/graph.h"
#include "index/graph_build/link.h"
#include "index/graph_build/prune.h"

namespace ra {

/// Links nodes [first, graph->size()) of `graph` (already grown; `keys` and `pruner` cover
/// them) into the graph. beam: the search beam per new key. state: sized to the grown graph,
/// updated.
void insert_keys(const MatrixView& keys, const Pruner& pruner, std::span<const NodeId> entries,
                 std::uint32_t beam, std::size_t first, LinkState& state, Graph* graph);

}  // namespace ra
