#include "index/graph_build/projection.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "index/graph_build/buckets.h"
#include "index/threading.h"

namespace ra {
namespace {

using Edge = std::pair<NodeId, NodeId>;  // (node, candidate neighbour)

// Edges grouped by node: node v's candidates are by_node.values[by_node.start[v], ...start[v + 1]).
// Duplicates stay; prune_groups removes them per node.
struct Grouped {
  Buckets<NodeId> by_node;
  std::vector<NodeId> nodes;  // the nodes with candidates
};

Grouped group_edges(const std::vector<Edge>& edges, std::size_t num_nodes) {
  Grouped g;
  group_by_bucket(edges.size(), num_nodes, [&](std::size_t i) { return edges[i].first; },
                  [&](std::size_t i) { return edges[i].second; }, &g.by_node);
  for (std::size_t v = 0; v < num_nodes; ++v) {
    if (g.by_node.size(v) > 0) g.nodes.push_back(static_cast<NodeId>(v));
  }
  return g;
}

// Prunes each node's candidates (plus, when `keep_existing`, its current neighbours) into its
// adjacency list. Nodes are disjoint, so they run in parallel.
Status prune_groups(const Grouped& grouped, bool keep_existing, const Pruner& pruner, int num_threads,
                    Graph* graph) {
  ParallelGuard guard;
  const auto num_groups = static_cast<std::int64_t>(grouped.nodes.size());
#pragma omp parallel num_threads(num_threads)
  {
    PruneScratch scratch;
    std::vector<NodeId> candidates, kept;
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t g = 0; g < num_groups; ++g) {
      guard.run([&] {
        const NodeId node = grouped.nodes[static_cast<std::size_t>(g)];
        candidates.clear();
        if (keep_existing) {
          const auto current = graph->neighbors(node);
          candidates.assign(current.begin(), current.end());
        }
        const Buckets<NodeId>& b = grouped.by_node;
        for (std::size_t i = b.start[node]; i < b.start[node + 1]; ++i) {
          if (b.values[i] != node) candidates.push_back(b.values[i]);
        }
        std::sort(candidates.begin(), candidates.end());
        candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
        if (candidates.size() <= graph->max_degree() && keep_existing) {
          kept = candidates;  // fits: nothing to prune, keep every edge
        } else {
          pruner.prune(node, candidates, scratch, &kept);
        }
        graph->set_neighbors(node, kept);
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
  RA_RETURN_IF_ERROR(prune_groups(group_edges(edges, graph->size()), false, pruner, num_threads, graph));
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
  return prune_groups(group_edges(edges, graph->size()), true, pruner, num_threads, graph);
}

}  // namespace ra
