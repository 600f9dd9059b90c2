#include "index/graph_build/projection.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "index/threading.h"

namespace ra {
namespace {

using Edge = std::pair<NodeId, NodeId>;  // (node, candidate neighbour)

struct Group {
  NodeId node;
  std::size_t begin, end;  // range in the sorted edge list
};

// Sorts and de-duplicates the edges and splits them by node.
std::vector<Group> group_edges(std::vector<Edge>& edges) {
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  std::vector<Group> groups;
  for (std::size_t i = 0; i < edges.size();) {
    std::size_t j = i;
    while (j < edges.size() && edges[j].first == edges[i].first) ++j;
    groups.push_back({edges[i].first, i, j});
    i = j;
  }
  return groups;
}

// Prunes each group's candidates (plus, when `keep_existing`, the node's current neighbours)
// into its adjacency list. Groups touch disjoint nodes, so they run in parallel.
Status prune_groups(const std::vector<Edge>& edges, const std::vector<Group>& groups,
                    bool keep_existing, const Pruner& pruner, int num_threads, Graph* graph) {
  ParallelGuard guard;
  const auto num_groups = static_cast<std::int64_t>(groups.size());
#pragma omp parallel num_threads(num_threads)
  {
    PruneScratch scratch;
    std::vector<NodeId> candidates, kept;
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t g = 0; g < num_groups; ++g) {
      guard.run([&] {
        const Group& grp = groups[static_cast<std::size_t>(g)];
        candidates.clear();
        if (keep_existing) {
          const auto current = graph->neighbors(grp.node);
          candidates.assign(current.begin(), current.end());
        }
        for (std::size_t i = grp.begin; i < grp.end; ++i) {
          if (edges[i].second != grp.node) candidates.push_back(edges[i].second);
        }
        std::sort(candidates.begin(), candidates.end());
        candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
        if (candidates.size() <= graph->max_degree() && keep_existing) {
          kept = candidates;  // fits: nothing to prune, keep every edge
        } else {
          pruner.prune(grp.node, candidates, scratch, &kept);
        }
        graph->set_neighbors(grp.node, kept);
      });
    }
  }
  return guard.status("graph build");
}

}  // namespace

Result<std::size_t> project_queries(std::span<const NodeId> knn, std::size_t k,
                                    const Pruner& pruner, int num_threads, Graph* graph) {
  const std::size_t num_queries = k ? knn.size() / k : 0;
  // Each key's best rank over all training queries' lists.
  std::vector<std::uint32_t> best_rank(graph->size(), UINT32_MAX);
  for (std::size_t q = 0; q < num_queries; ++q) {
    for (std::size_t j = 0; j < k; ++j) {
      std::uint32_t& r = best_rank[knn[q * k + j]];
      r = std::min(r, static_cast<std::uint32_t>(j));
    }
  }
  // A key takes as candidates the lists of the queries where it ranks best (rank 0: it is
  // their pivot, and all their lists are merged).
  std::vector<Edge> edges;
  edges.reserve(num_queries * k);
  for (std::size_t q = 0; q < num_queries; ++q) {
    for (std::size_t j = 0; j < k; ++j) {
      const NodeId x = knn[q * k + j];
      if (best_rank[x] != j) continue;
      for (std::size_t i = 0; i < k; ++i) {
        if (i != j) edges.emplace_back(x, knn[q * k + i]);
      }
    }
  }
  const std::vector<Group> groups = group_edges(edges);
  RA_RETURN_IF_ERROR(prune_groups(edges, groups, false, pruner, num_threads, graph));
  std::size_t pivots = 0;
  for (std::uint32_t r : best_rank) pivots += r == 0;
  return pivots;
}

Status add_reverse_edges(const Pruner& pruner, int num_threads, Graph* graph) {
  std::vector<Edge> edges;
  edges.reserve(graph->num_edges());
  for (NodeId v = 0; v < graph->size(); ++v) {
    for (NodeId u : graph->neighbors(v)) edges.emplace_back(u, v);
  }
  const std::vector<Group> groups = group_edges(edges);
  return prune_groups(edges, groups, true, pruner, num_threads, graph);
}

}  // namespace ra
