#pragma once
// The one step that makes a key reachable: some key found near it (by a search) points to it,
// either through a free slot or by giving up an edge that other keys keep reachable. Shared by
// the reachability repair (build step 4) and by insertion.
#include <cstdint>
#include <span>
#include <vector>

#include "index/graph.h"

namespace ra {

/// Makes a key of `found` (best first, u excluded) point to u: the first with a free slot
/// takes u; otherwise the first whose most redundant neighbour (most in-edges in `indegree`,
/// ties to the larger id) has at least two in-edges swaps that neighbour for u. Updates
/// indegree. False when no key of `found` can take u without cutting another key off.
bool link_in(NodeId u, std::span<const NodeId> found, std::vector<std::uint32_t>& indegree,
             Graph* graph);

/// In-edges of every node, counting only edges from nodes with from[v] set (all when empty).
std::vector<std::uint32_t> in_degrees(const Graph& graph, const std::vector<std::uint8_t>& from = {});

}  // namespace ra
