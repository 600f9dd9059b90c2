#include "index/graph_build/self_tune.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ra {

bool better_curve(const HeldOutCurve& a, const HeldOutCurve& b) {
  if (std::isinf(a.scored_at_target) && std::isinf(b.scored_at_target)) return a.best_recall > b.best_recall;
  return a.scored_at_target < b.scored_at_target;
}

Result<HeldOutCurve> held_out_curve(const GraphIndex& index, const MatrixView& queries,
                                    std::span<const NodeId> truth, std::uint32_t k) {
  constexpr double kTargets[3] = {0.90, 0.95, 0.99};
  HeldOutCurve curve;
  curve.scored_at_target = std::numeric_limits<double>::infinity();
  SearchContext ctx = index.make_context();
  std::vector<Label> ids(k);
  std::vector<float> scores(k);
  const std::size_t hubs = index.hubs().size();
  double prev_recall = 0, prev_scored = 0;
  for (auto beam = static_cast<std::uint32_t>(hubs >= k ? 1 : k - hubs); beam <= std::max(8 * k, 256u);
       beam = std::max(beam + 1, beam * 3 / 2)) {
    double hits = 0, scored = 0;
    for (std::size_t q = 0; q < queries.rows; ++q) {
      SearchStats st;
      RA_RETURN_IF_ERROR(index.search_one(queries.f32_row(q), {k, beam, 1}, ctx, ids.data(), scores.data(), &st));
      const auto row = truth.subspan(q * k, k);
      for (Label id : ids) hits += std::find(row.begin(), row.end(), static_cast<NodeId>(id)) != row.end();
      scored += static_cast<double>(st.score_evals);
    }
    const double recall = hits / static_cast<double>(queries.rows * k);
    scored /= static_cast<double>(queries.rows);
    curve.best_recall = recall;
    for (int t = 0; t < 3; ++t) {
      if (curve.beam_at[t] == 0 && recall >= kTargets[t]) curve.beam_at[t] = beam;
    }
    if (std::isinf(curve.scored_at_target) && recall >= kTargets[1]) {
      // Linear between the last beam below the target and this one.
      const double f = prev_scored == 0 ? 1.0 : (kTargets[1] - prev_recall) / (recall - prev_recall);
      curve.scored_at_target = prev_scored + f * (scored - prev_scored);
    }
    if (curve.beam_at[2] != 0) break;
    prev_recall = recall;
    prev_scored = scored;
  }
  return curve;
}

}  // namespace ra
