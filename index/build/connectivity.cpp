#include "index/build/connectivity.h"

#include <algorithm>
#include <vector>

#include "index/beam_search.h"
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
#pragma omp parallel num_threads(num_threads)
  {
    SearchContext ctx(graph.size());
    ctx.scores.resize(std::max<std::size_t>(graph.max_degree(), entries.size()));
    std::vector<float> q(keys.dim);
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

NodeId choose_entry(const MatrixView& keys, const MatrixView& train_queries) {
  std::vector<double> sum(keys.dim, 0.0);
  for (std::size_t i = 0; i < train_queries.rows; ++i) {
    const float* q = train_queries.f32_row(i);
    for (std::size_t c = 0; c < keys.dim; ++c) sum[c] += q[c];
  }
  std::vector<float> mean(keys.dim);
  for (std::size_t c = 0; c < keys.dim; ++c) {
    mean[c] = static_cast<float>(sum[c] / static_cast<double>(std::max<std::size_t>(1, train_queries.rows)));
  }
  std::vector<float> scores(keys.rows);
  simd::dot_rows(mean.data(), keys.data, keys.dtype, keys.stride, keys.rows, keys.dim, scores.data());
  return static_cast<NodeId>(std::max_element(scores.begin(), scores.end()) - scores.begin());
}

Result<ConnectivityReport> repair_reachability(const MatrixView& keys, const Pruner& pruner,
                                        std::span<const NodeId> entries, std::uint32_t beam,
                                        int num_threads, Graph* graph) {
  ConnectivityReport report;
  for (NodeId v = 0; v < graph->size(); ++v) report.zero_out_degree += graph->degree(v) == 0;

  std::vector<std::uint8_t> reached;
  constexpr int kMaxRounds = 8;  // a repair may displace another key's only in-edge
  for (int round = 0; round < kMaxRounds; ++round) {
    graph->reachable_from(entries.front(), &reached);
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
    std::vector<std::uint32_t> indegree(graph->size(), 0);
    for (NodeId v = 0; v < graph->size(); ++v) {
      if (!reached[v]) continue;
      for (NodeId w : graph->neighbors(v)) ++indegree[w];
    }
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
      // Prefer a found key with a free slot; else the first found key with a neighbour that
      // other reachable keys also point to: that edge is given up, which disconnects nothing.
      const auto free = std::find_if(near.begin(), near.end(),
                                     [&](NodeId r) { return graph->degree(r) < graph->max_degree(); });
      if (free != near.end()) {
        graph->add_neighbor(*free, u);
      } else {
        NodeId from = near.front();
        std::size_t slot = graph->max_degree() - 1;
        for (NodeId r : near) {
          const auto nb = graph->neighbors(r);
          const auto victim = std::max_element(nb.begin(), nb.end(), [&](NodeId a, NodeId b) {
            return indegree[a] < indegree[b] || (indegree[a] == indegree[b] && a < b);
          });
          if (indegree[*victim] >= 2) {
            from = r;
            slot = static_cast<std::size_t>(victim - nb.begin());
            break;
          }
        }
        kept.assign(graph->neighbors(from).begin(), graph->neighbors(from).end());
        --indegree[kept[slot]];
        kept[slot] = u;
        graph->set_neighbors(from, kept);
      }
      ++indegree[u];
      ++report.repaired;
    }
  }
  return report;
}

}  // namespace ra
