#pragma once
// Self-tuning: how much a built index must score to reach a recall on held-out training
// queries (samples of the query distribution the build never saw), so that the build can keep
// the better of two graphs and report the beam each recall needs.
#include <cstdint>
#include <span>

#include "index/graph_index.h"

namespace ra {

struct HeldOutCurve {
  double scored_at_target = 0;       // keys scored per query at recall 0.95 (interpolated;
                                     // infinity when no beam up to max(8k, 256) reaches it)
  double best_recall = 0;            // at the widest beam tried
  std::uint32_t beam_at[3] = {0, 0, 0};  // first beam reaching recall 0.90 / 0.95 / 0.99 (0: none)
};

/// Sweeps the beam (about 1.5x apart, from the smallest valid one to max(8k, 256), stopping at
/// recall 0.99) over `queries`
/// against their exact top-k `truth` (queries.rows x k ids).
/// True when `a` needs fewer keys for recall 0.95 than `b` (or, neither reaching it, recalls more).
bool better_curve(const HeldOutCurve& a, const HeldOutCurve& b);

Result<HeldOutCurve> held_out_curve(const GraphIndex& index, const MatrixView& queries,
                                    std::span<const NodeId> truth, std::uint32_t k);

}  // namespace ra
