#include "index/graph_build/insert.h"

#include <vector>

#include "index/beam_search.h"

namespace ra {

void insert_keys(const MatrixView& keys, const Pruner& pruner, std::span<const NodeId> entries,
                 std::uint32_t beam, std::size_t first, LinkState& state, Graph* graph) {
  std::vector<std::uint32_t>& indegree = state.indegree;
  const std::size_t last = graph->size();
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
    // Reverse edges: a key with a free slot takes u; a full one swaps u for its least similar
    // neighbour when u is more similar and that neighbour has other in-edges.
    bool linked = false;
    for (NodeId r : kept) {
      if (graph->add_neighbor(r, u)) {
        ++indegree[u];
        if (!linked) state.parent[u] = r;
        linked = true;
        continue;
      }
      list.assign(graph->neighbors(r).begin(), graph->neighbors(r).end());
      list.push_back(u);
      pruner.centred_scores(r, list, scratch, sim.data());
      std::size_t victim = list.size();
      for (std::size_t j = 0; j + 1 < list.size(); ++j) {
        if (state.removable(r, list[j]) && sim[j] < sim.back() &&
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
      if (!linked) state.parent[u] = r;
      linked = true;
    }
    if (!linked) linked = link_in(u, candidates, indegree, graph, &state.parent);
    // u's out-edges count once u is reachable: an in-edge from an unreachable key keeps
    // nothing reachable, so it must not make an edge look redundant.
    if (linked) {
      for (NodeId w : kept) ++indegree[w];
    }
  }
}

}  // namespace ra
