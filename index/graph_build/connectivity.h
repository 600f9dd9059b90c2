#pragma once
// Build step 4: every key reachable from the main entry point, including keys that no
// training query reached. Unreachable keys are searched for (from the entry points, on the graph
// as it is, in parallel, with the centred key as the query) and then linked in one at a time in
// id order by link_in (a found key with a free slot points to it, or else one that can give up
// an edge without disconnecting anything); a key without out-edges also gets its pruned search
// results. Rounds repeat
// until every key is reachable (or a bound is hit, which the report then shows).
//
// There is deliberately no pass that links every key to its key-space neighbours (RoarGraph's
// connectivity enhancement): on attention-like data such edges, chosen without the queries,
// spent degree budget and lowered recall at equal keys scored (measured in the issue notes).
#include <cstdint>
#include <span>

#include "index/graph_build/prune.h"
#include "index/graph.h"
#include "index/result.h"

namespace ra {

struct ConnectivityReport {
  std::uint64_t zero_out_degree = 0;  // keys that had no out-edge before the repair
  std::uint64_t repaired = 0;         // keys linked in by the repair
  std::uint64_t unreachable = 0;      // left unreachable (0 unless the repair rounds ran out)
};

/// `entries`: where searches start; reachability is from the first. `isolated` (sorted ids:
/// the hubs, scored outside the graph) are left out: neither repaired nor counted.
Result<ConnectivityReport> repair_reachability(const MatrixView& keys, const Pruner& pruner,
                                        std::span<const NodeId> entries,
                                        std::span<const NodeId> isolated,
                                        std::uint32_t beam, int num_threads, Graph* graph);

}  // namespace ra
