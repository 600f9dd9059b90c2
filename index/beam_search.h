#pragma once
// Internal: best-first beam search over a graph of keys, scoring by inner product.
#include <cstdint>
#include <span>

#include "index/graph.h"
#include "index/search.h"
#include "index/search_scratch.h"

namespace ra {

/// Searches from `entries` for the keys of highest <q, key>: repeatedly expands the best
/// unexpanded candidate, scoring its unvisited neighbours in one gather, until the best `beam`
/// candidates are all expanded. Leaves them, best first, in ctx.pool. Adds the work done to
/// *stats. q is f32 of keys.dim floats; entries are valid node ids. Allocates only while the
/// scratch grows (a larger graph or beam than before), so it may throw std::bad_alloc.
void beam_search(const Graph& graph, const MatrixView& keys, const float* q,
                 std::span<const NodeId> entries, std::uint32_t beam, SearchScratch& ctx,
                 SearchStats* stats);

}  // namespace ra
