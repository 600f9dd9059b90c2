#include "index/graph.h"

#include <algorithm>
#include <numeric>

namespace ra {

void Graph::set_neighbors(NodeId v, std::span<const NodeId> ids) noexcept {
  const std::size_t n = std::min<std::size_t>(ids.size(), max_degree_);
  std::copy_n(ids.begin(), n, slots_.begin() + static_cast<std::ptrdiff_t>(v) * max_degree_);
  degree_[v] = static_cast<std::uint32_t>(n);
}

bool Graph::add_neighbor(NodeId v, NodeId id) noexcept {
  if (degree_[v] >= max_degree_) return false;
  slots_[static_cast<std::size_t>(v) * max_degree_ + degree_[v]++] = id;
  return true;
}

void Graph::grow(std::size_t num_nodes) {
  degree_.resize(degree_.size() + num_nodes, 0);
  slots_.resize(degree_.size() * max_degree_, 0);
}

Graph Graph::from_arrays(std::uint32_t max_degree, std::vector<std::uint32_t> degrees,
                         std::vector<NodeId> slots) {
  Graph g;
  g.max_degree_ = max_degree;
  g.degree_ = std::move(degrees);
  g.slots_ = std::move(slots);
  return g;
}

std::size_t Graph::reachable_from(NodeId entry, std::vector<std::uint8_t>* reached) const {
  reached->assign(size(), 0);
  if (size() == 0) return 0;
  std::vector<NodeId> frontier{entry};
  (*reached)[entry] = 1;
  std::size_t count = 1;
  while (!frontier.empty()) {
    const NodeId v = frontier.back();
    frontier.pop_back();
    for (NodeId u : neighbors(v)) {
      if (!(*reached)[u]) {
        (*reached)[u] = 1;
        ++count;
        frontier.push_back(u);
      }
    }
  }
  return count;
}

std::uint64_t Graph::num_edges() const noexcept {
  return std::accumulate(degree_.begin(), degree_.end(), std::uint64_t{0});
}

}  // namespace ra
