#include "index/graph_build/link.h"

#include <algorithm>

namespace ra {

bool link_in(NodeId u, std::span<const NodeId> found, std::vector<std::uint32_t>& indegree,
             Graph* graph, std::vector<NodeId>* parent) {
  for (NodeId r : found) {
    if (r != u && graph->add_neighbor(r, u)) {
      ++indegree[u];
      if (parent != nullptr) (*parent)[u] = r;
      return true;
    }
  }
  std::vector<NodeId> list;
  for (NodeId r : found) {
    if (r == u) continue;
    const auto nb = graph->neighbors(r);
    auto redundancy = [&](NodeId x) -> std::int64_t {  // -1: must stay
      return parent != nullptr && (*parent)[x] == r ? -1 : static_cast<std::int64_t>(indegree[x]);
    };
    const auto victim = std::max_element(nb.begin(), nb.end(), [&](NodeId a, NodeId b) {
      return redundancy(a) < redundancy(b) || (redundancy(a) == redundancy(b) && a < b);
    });
    if (victim == nb.end() || redundancy(*victim) < 2) continue;
    list.assign(nb.begin(), nb.end());
    const auto slot = victim - nb.begin();
    --indegree[list[static_cast<std::size_t>(slot)]];
    list[static_cast<std::size_t>(slot)] = u;
    graph->set_neighbors(r, list);
    ++indegree[u];
    if (parent != nullptr) (*parent)[u] = r;
    return true;
  }
  return false;
}

LinkState LinkState::of(const Graph& graph, NodeId root) {
  LinkState s;
  s.indegree = in_degrees(graph);
  s.parent.assign(graph.size(), kNoParent);
  if (graph.size() == 0) return s;
  std::vector<std::uint8_t> seen(graph.size(), 0);
  std::vector<NodeId> frontier{root}, next;
  seen[root] = 1;
  while (!frontier.empty()) {
    next.clear();
    for (NodeId v : frontier) {
      for (NodeId w : graph.neighbors(v)) {
        if (seen[w]) continue;
        seen[w] = 1;
        s.parent[w] = v;
        next.push_back(w);
      }
    }
    frontier.swap(next);
  }
  return s;
}

std::vector<std::uint32_t> in_degrees(const Graph& graph, const std::vector<std::uint8_t>& from) {
  std::vector<std::uint32_t> indegree(graph.size(), 0);
  for (NodeId v = 0; v < graph.size(); ++v) {
    if (!from.empty() && !from[v]) continue;
    for (NodeId w : graph.neighbors(v)) ++indegree[w];
  }
  return indegree;
}

}  // namespace ra
