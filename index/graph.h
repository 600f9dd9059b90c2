#pragma once
// Fixed-capacity adjacency lists: node i owns max_degree slots at i * max_degree, of which the
// first degree(i) are its out-neighbours. One contiguous block, so a hop reads one cache line
// run and the whole graph saves and loads as one array.
#include <cstdint>
#include <span>
#include <vector>

#include "types.h"

namespace ra {

class Graph {
 public:
  Graph() = default;
  Graph(std::size_t num_nodes, std::uint32_t max_degree)
      : max_degree_(max_degree), degree_(num_nodes, 0), slots_(num_nodes * max_degree, 0) {}

  std::size_t size() const noexcept { return degree_.size(); }
  std::uint32_t max_degree() const noexcept { return max_degree_; }
  std::uint32_t degree(NodeId v) const noexcept { return degree_[v]; }
  std::span<const NodeId> neighbors(NodeId v) const noexcept {
    return {slots_.data() + static_cast<std::size_t>(v) * max_degree_, degree_[v]};
  }
  /// Starts loading v's list into the cache (a search expands it soon).
  void prefetch(NodeId v) const noexcept {
    const NodeId* p = slots_.data() + static_cast<std::size_t>(v) * max_degree_;
    for (std::size_t b = 0; b < max_degree_ * sizeof(NodeId); b += 64) __builtin_prefetch(reinterpret_cast<const char*>(p) + b);
    __builtin_prefetch(degree_.data() + v);
  }
  /// Replaces v's neighbours (at most max_degree of them).
  void set_neighbors(NodeId v, std::span<const NodeId> ids) noexcept;
  /// Appends one neighbour; false when v is full.
  bool add_neighbor(NodeId v, NodeId id) noexcept;
  /// Adds nodes with no edges.
  void grow(std::size_t num_nodes);

  /// Raw arrays for serialisation.
  const std::vector<std::uint32_t>& degrees() const noexcept { return degree_; }
  const std::vector<NodeId>& slots() const noexcept { return slots_; }
  static Graph from_arrays(std::uint32_t max_degree, std::vector<std::uint32_t> degrees,
                           std::vector<NodeId> slots);

  /// Nodes reachable from `entry` (breadth-first); reached[v] is set for each.
  std::size_t reachable_from(NodeId entry, std::vector<std::uint8_t>* reached) const;
  std::uint64_t num_edges() const noexcept;

 private:
  std::uint32_t max_degree_ = 0;
  std::vector<std::uint32_t> degree_;
  std::vector<NodeId> slots_;
};

}  // namespace ra
