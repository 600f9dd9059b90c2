#include "index/graph_build/connectivity.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "index/beam_search.h"
#include "index/graph_build/link.h"
#include "index/threading.h"
#include "simd/inner_product.h"

namespace ra {
namespace {

// Searches the (frozen) graph for each key in `nodes` with its centred vector; keeps up to
// `keep` results per key (the key itself excluded) in found[i * keep ...].
Status search_for_keys(const MatrixView& keys, const Pruner& pruner, const Graph& graph,
                       std::span<const NodeId> entries, std::uint32_t beam, int num_threads,
                       const std::vector<NodeId>& nodes, std::size_t keep,
                       std::vector<NodeId>* found, std::vector<std::uint32_t>* counts) {
  found->assign(nodes.size() * keep, 0);
  counts->assign(nodes.size(), 0);
  ParallelGuard guard;
  // Scratch is allocated before the parallel region: nothing inside it may throw past guard.run.
  std::vector<SearchScratch> scratch;
  std::vector<std::vector<float>> centred(static_cast<std::size_t>(num_threads), std::vector<float>(keys.dim));
  for (int t = 0; t < num_threads; ++t) scratch.emplace_back(graph.size());
#pragma omp parallel num_threads(num_threads)
  {
    SearchScratch& ctx = scratch[static_cast<std::size_t>(omp_get_thread_num())];
    std::vector<float>& q = centred[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(nodes.size()); ++i) {
      guard.run([&] {
        const auto ui = static_cast<std::size_t>(i);
        convert_to_f32(keys.row_bytes(nodes[ui]), keys.dtype, keys.dim, q.data());
        for (std::size_t c = 0; c < keys.dim; ++c) q[c] -= pruner.mean()[c];
        beam_search(graph, keys, q.data(), entries, beam, ctx, nullptr);
        std::uint32_t n = 0;
        for (std::size_t j = 0; j < ctx.pool.size() && n < keep; ++j) {
          if (ctx.pool[j].id != nodes[ui]) (*found)[ui * keep + n++] = ctx.pool[j].id;
        }
        (*counts)[ui] = n;
      });
    }
  }
  return guard.status("graph linking search");
}

}  // namespace

Result<ConnectivityReport> repair_reachability(const MatrixView& keys, const Pruner& pruner,
                                        std::span<const NodeId> entries,
                                        std::span<const NodeId> isolated, std::uint32_t beam,
                                        int num_threads, Graph* graph) {
  ConnectivityReport report;
  for (NodeId v = 0; v < graph->size(); ++v) report.zero_out_degree += graph->degree(v) == 0;
  report.zero_out_degree -= std::min<std::uint64_t>(report.zero_out_degree, isolated.size());

  std::vector<std::uint8_t> reached;
  constexpr int kMaxRounds = 8;  // a repair may displace another key's only in-edge
  for (int round = 0; round < kMaxRounds; ++round) {
    graph->reachable_from(entries.front(), &reached);
    for (NodeId h : isolated) reached[h] = 1;
    std::vector<NodeId> unreached;
    for (NodeId v = 0; v < graph->size(); ++v) {
      if (!reached[v]) unreached.push_back(v);
    }
    report.unreachable = unreached.size();
    if (unreached.empty()) break;
    const std::size_t keep = graph->max_degree();
    std::vector<NodeId> found;
    std::vector<std::uint32_t> counts;
    RA_RETURN_IF_ERROR(search_for_keys(keys, pruner, *graph, entries, beam, num_threads, unreached,
                                       keep, &found, &counts));
    // In-edges from reachable keys, so that a repair displaces the most redundant edge it can
    // (an edge from an unreachable key does not keep anything reachable).
    std::vector<std::uint32_t> indegree = in_degrees(*graph, reached);
    PruneScratch scratch;
    std::vector<NodeId> kept;
    for (std::size_t i = 0; i < unreached.size(); ++i) {
      const NodeId u = unreached[i];
      const std::span<const NodeId> near(found.data() + i * keep, counts[i]);
      if (near.empty()) continue;
      if (graph->degree(u) == 0) {
        pruner.prune(u, near, scratch, &kept);
        graph->set_neighbors(u, kept);
      }
      for (NodeId w : graph->neighbors(u)) ++indegree[w];  // u is reachable from now on
      if (!link_in(u, near, indegree, graph)) {
        // Every found key's edges are the only way to their targets: the best found key gives
        // up its last edge anyway; a later round re-links what that cuts off.
        kept.assign(graph->neighbors(near.front()).begin(), graph->neighbors(near.front()).end());
        --indegree[kept.back()];
        kept.back() = u;
        graph->set_neighbors(near.front(), kept);
        ++indegree[u];
      }
      ++report.repaired;
    }
  }
  return report;
}

}  // namespace ra
