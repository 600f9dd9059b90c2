#include "index/graph_build/hubs.h"

#include <algorithm>
#include <cmath>

namespace ra {

std::vector<NodeId> find_hubs(std::span<const NodeId> knn, std::size_t k, std::size_t num_keys,
                              double min_share, std::size_t max_hubs) {
  if (k == 0 || knn.empty() || max_hubs == 0) return {};
  const std::size_t lists = knn.size() / k;
  std::vector<std::uint32_t> count(num_keys, 0);
  for (NodeId id : knn) ++count[id];
  const auto need = static_cast<std::uint32_t>(
      std::max(1.0, std::ceil(min_share * static_cast<double>(lists))));
  std::vector<NodeId> hubs;
  for (NodeId v = 0; v < num_keys; ++v) {
    if (count[v] >= need) hubs.push_back(v);
  }
  if (hubs.size() > max_hubs) {
    std::nth_element(hubs.begin(), hubs.begin() + static_cast<std::ptrdiff_t>(max_hubs), hubs.end(),
                     [&](NodeId a, NodeId b) { return count[a] > count[b] || (count[a] == count[b] && a < b); });
    hubs.resize(max_hubs);
  }
  std::sort(hubs.begin(), hubs.end());
  return hubs;
}

std::vector<NodeId> drop_hubs(std::span<const NodeId> knn, std::size_t k_in,
                              std::span<const NodeId> sorted_hubs, std::size_t k_out) {
  const std::size_t lists = knn.size() / k_in;
  std::vector<NodeId> out(lists * k_out);
  for (std::size_t q = 0; q < lists; ++q) {
    std::size_t n = 0;
    for (std::size_t j = 0; j < k_in && n < k_out; ++j) {
      const NodeId id = knn[q * k_in + j];
      if (!std::binary_search(sorted_hubs.begin(), sorted_hubs.end(), id)) out[q * k_out + n++] = id;
    }
    // Only when the keys run out (n < k_in + hubs): repeat the last id, which projection
    // de-duplicates.
    for (; n < k_out; ++n) out[q * k_out + n] = n ? out[q * k_out + n - 1] : knn[q * k_in];
  }
  return out;
}

}  // namespace ra
