#include "index/graph_build/insert.h"

#include <string>
#include <vector>

#include "index/beam_search.h"
#include "index/graph_build/connectivity.h"
#include "index/graph_build/link.h"

namespace ra {

Status insert_keys(const MatrixView& keys, const Pruner& pruner, std::span<const NodeId> entries,
                   std::uint32_t beam, int num_threads, std::size_t first, Graph* graph) {
  const std::size_t last = graph->size();
  // In-degrees decide which edge a full key can give up without disconnecting anything.
  std::vector<std::uint32_t> indegree = in_degrees(*graph);
  SearchScratch ctx(last);
  PruneScratch scratch;
  std::vector<NodeId> candidates, kept, list;
  std::vector<float> q(keys.dim), sim(graph->max_degree() + 1);
  for (std::size_t v = first; v < last; ++v) {
    const auto u = static_cast<NodeId>(v);
    convert_to_f32(keys.row_bytes(u), keys.dtype, keys.dim, q.data());
    for (std::size_t c = 0; c < keys.dim; ++c) q[c] -= pruner.mean()[c];  // centred query
    beam_search(*graph, keys, q.data(), entries, beam, ctx, nullptr);
    candidates.clear();
    for (std::size_t j = 0; j < ctx.pool.size(); ++j) {
      if (ctx.pool[j].id != u) candidates.push_back(ctx.pool[j].id);
    }
    pruner.prune(u, candidates, scratch, &kept);
    graph->set_neighbors(u, kept);
    for (NodeId w : kept) ++indegree[w];
    // Reverse edges: a key with a free slot takes u; a full one swaps u for its least similar
    // neighbour when u is more similar and that neighbour has other in-edges.
    bool linked = false;
    for (NodeId r : kept) {
      if (graph->add_neighbor(r, u)) {
        ++indegree[u];
        linked = true;
        continue;
      }
      list.assign(graph->neighbors(r).begin(), graph->neighbors(r).end());
      list.push_back(u);
      pruner.centred_scores(r, list, scratch, sim.data());
      std::size_t victim = list.size();
      for (std::size_t j = 0; j + 1 < list.size(); ++j) {
        if (indegree[list[j]] >= 2 && sim[j] < sim.back() &&
            (victim == list.size() || sim[j] < sim[victim])) {
          victim = j;
        }
      }
      if (victim == list.size()) continue;
      --indegree[list[victim]];
      list[victim] = u;
      list.pop_back();
      graph->set_neighbors(r, list);
      ++indegree[u];
      linked = true;
    }
    if (!linked) link_in(u, candidates, indegree, graph);
  }
  RA_ASSIGN_OR_RETURN(const ConnectivityReport conn,
                      repair_reachability(keys, pruner, entries, beam, num_threads, graph));
  if (conn.unreachable > 0) {
    return Status::Internal("insert left " + std::to_string(conn.unreachable) + " keys unreachable");
  }
  return Status::OK();
}

}  // namespace ra
