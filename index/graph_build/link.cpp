#include "index/graph_build/link.h"

#include <algorithm>

namespace ra {

bool link_in(NodeId u, std::span<const NodeId> found, std::vector<std::uint32_t>& indegree,
             Graph* graph) {
  for (NodeId r : found) {
    if (r != u && graph->add_neighbor(r, u)) {
      ++indegree[u];
      return true;
    }
  }
  std::vector<NodeId> list;
  for (NodeId r : found) {
    if (r == u) continue;
    const auto nb = graph->neighbors(r);
    const auto victim = std::max_element(nb.begin(), nb.end(), [&](NodeId a, NodeId b) {
      return indegree[a] < indegree[b] || (indegree[a] == indegree[b] && a < b);
    });
    if (victim == nb.end() || indegree[*victim] < 2) continue;
    list.assign(nb.begin(), nb.end());
    const auto slot = victim - nb.begin();
    --indegree[list[static_cast<std::size_t>(slot)]];
    list[static_cast<std::size_t>(slot)] = u;
    graph->set_neighbors(r, list);
    ++indegree[u];
    return true;
  }
  return false;
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
