#pragma once
// Search parameters and results shared by every index. MIPS throughout: score(q, x) = <q, x>,
// larger is better; results are sorted by score, descending.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/types.h"

namespace ra {

/// Results of a batch search: num_queries x k, row-major, best first.
struct SearchResults {
  std::size_t num_queries = 0, k = 0;
  std::vector<Label> ids;
  std::vector<float> scores;

  const Label* ids_of(std::size_t q) const noexcept { return ids.data() + q * k; }
  const float* scores_of(std::size_t q) const noexcept { return scores.data() + q * k; }
};

/// Work done by a search: keys scored (inner products computed) and graph hops.
struct SearchStats {
  std::uint64_t score_evals = 0, hops = 0;
};

/// 0 means "all the cores OpenMP sees"; never changes any global thread setting.
int resolve_threads(std::uint32_t requested) noexcept;

}  // namespace ra
