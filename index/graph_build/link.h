#pragma once
// The one step that makes a key reachable: some key found near it (by a search) points to it,
// either through a free slot or by giving up an edge that other keys keep reachable. Shared by
// the reachability repair (build step 4) and by insertion.
#include <cstdint>
#include <span>
#include <vector>

#include "index/graph.h"

namespace ra {

inline constexpr NodeId kNoParent = ~NodeId{0};

/// Makes a key of `found` (best first, u excluded) point to u: the first with a free slot
/// takes u; otherwise the first whose most redundant neighbour (most in-edges in `indegree`,
/// ties to the larger id) has at least two in-edges, and reaches it by an edge other than its
/// `parent` edge when parents are given, swaps that neighbour for u (parent[u] becomes that
/// key). Updates indegree. False when no key of `found` can take u without cutting another off.
bool link_in(NodeId u, std::span<const NodeId> found, std::vector<std::uint32_t>& indegree,
             Graph* graph, std::vector<NodeId>* parent = nullptr);

/// What insertion keeps from one call to the next: every key's in-degree, and one in-edge per
/// key, its parent in a spanning tree from the main entry. Parent edges are never swapped
/// away, so a key that is reachable stays reachable.
struct LinkState {
  std::vector<std::uint32_t> indegree;
  std::vector<NodeId> parent;  // kNoParent: the root, or not reached
  /// Counts in-degrees and grows the tree breadth-first from `root` (a full-graph pass).
  static LinkState of(const Graph& graph, NodeId root);
  /// Whether the edge from -> to may be swapped away.
  bool removable(NodeId from, NodeId to) const noexcept { return indegree[to] >= 2 && parent[to] != from; }
};

/// In-edges of every node, counting only edges from nodes with from[v] set (all when empty).
std::vector<std::uint32_t> in_degrees(const Graph& graph, const std::vector<std::uint8_t>& from = {});

}  // namespace ra
