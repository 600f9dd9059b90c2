#pragma once
// Build steps 2 and 3: project the query->key kNN bipartite graph onto the keys, then make
// edges two-way. Both give the same graph at any thread count: edges are gathered as sorted,
// de-duplicated (node, candidate) pairs and each node is pruned independently.
#include <cstdint>
#include <span>

#include "index/graph_build/prune.h"
#include "index/graph.h"
#include "index/result.h"

namespace ra {

/// Step 2: every key that appears in some training query's kNN list takes as candidates the
/// other keys of the lists where it ranks best. For a query's best key (its pivot) these are
/// all the lists of the queries sharing that pivot, merged (never overwritten); a key that is
/// nobody's best still gets the list where it ranks highest, so the query-guided edges cover
/// every key the queries touch, not only pivots. Candidates are pruned to max_degree.
/// knn is num_queries x k ids, best first. Returns the number of pivots.
Result<std::size_t> project_queries(std::span<const NodeId> knn, std::size_t k,
                                    const Pruner& pruner, int num_threads, Graph* graph);

/// Step 3: for every edge v -> u adds u -> v, re-pruning the lists that would overflow.
Status add_reverse_edges(const Pruner& pruner, int num_threads, Graph* graph);

}  // namespace ra
