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
  if (ctx.ids.size() < hop) ctx.ids.resize(hop);
  NodeId* const ids = ctx.ids.data();
  float* const scores = ctx.scores.data();
  std::uint64_t evals = 0, hops = 0;
  auto score_and_insert = [&](std::size_t n) {
    if (n == 0) return;
    simd::dot_gather(q, keys.data, keys.dtype, keys.stride, ids, n, keys.dim, scores);
    evals += n;
    if (ctx.scored_log != nullptr) ctx.scored_log->insert(ctx.scored_log->end(), ids, ids + n);
    for (std::size_t i = 0; i < n; ++i) ctx.pool.insert(scores[i], ids[i]);
  };
  score_and_insert(ctx.take_unvisited(entries, ids));
  while (true) {
    const std::size_t best = ctx.pool.pop_best_unexpanded();
    if (best == ctx.pool.size()) break;
    ++hops;
    // The next expansion is most often the runner-up now: its list loads while this hop is
    // scored, instead of after (a hop waits on two memory reads otherwise).
    if (const std::size_t next = ctx.pool.peek_next_unexpanded(); next < ctx.pool.size()) {
      graph.prefetch(ctx.pool[next].id);
    }
    score_and_insert(ctx.take_unvisited(graph.neighbors(ctx.pool[best].id), ids));
  }
  if (stats != nullptr) {
    stats->score_evals += evals;
    stats->hops += hops;
  }
}

}  // namespace ra
