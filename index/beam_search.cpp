#include "index/beam_search.h"

#include <algorithm>

#include "simd/inner_product.h"

namespace ra {

void beam_search(const Graph& graph, const MatrixView& keys, const float* q,
                 std::span<const NodeId> entries, std::uint32_t beam, SearchScratch& ctx,
                 SearchStats* stats) {
  ctx.next_query(graph.size());
  ctx.pool.reset(beam);
  const std::size_t hop = std::max<std::size_t>(graph.max_degree(), entries.size());
  if (ctx.scores.size() < hop) ctx.scores.resize(hop);
  std::uint64_t evals = 0, hops = 0;
  ctx.ids.clear();
  for (NodeId e : entries) {
    if (ctx.first_visit(e)) ctx.ids.push_back(e);
  }
  auto score_and_insert = [&] {
    const std::size_t n = ctx.ids.size();
    if (n == 0) return;
    simd::dot_gather(q, keys.data, keys.dtype, keys.stride, ctx.ids.data(), n, keys.dim,
                     ctx.scores.data());
    evals += n;
    for (std::size_t i = 0; i < n; ++i) ctx.pool.insert(ctx.scores[i], ctx.ids[i]);
  };
  score_and_insert();
  while (true) {
    const std::size_t best = ctx.pool.pop_best_unexpanded();
    if (best == ctx.pool.size()) break;
    ++hops;
    ctx.ids.clear();
    for (NodeId u : graph.neighbors(ctx.pool[best].id)) {
      if (ctx.first_visit(u)) ctx.ids.push_back(u);
    }
    score_and_insert();
  }
  if (stats != nullptr) {
    stats->score_evals += evals;
    stats->hops += hops;
  }
}

}  // namespace ra
