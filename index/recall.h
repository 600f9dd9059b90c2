#pragma once
// recall@k, the index-quality measure of this project: the mean share of each query's true
// top-k that a search found.
#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "search.h"
#include "types.h"

namespace ra {

/// Rows of `found` (found_cols ids each) against rows of `truth` (truth_cols ids each, best
/// first), row-major, over the rows both hold: the share of truth's first min(k, truth_cols)
/// ids among found's first min(k, found_cols). Ids are distinct within a row; padding
/// (kNoLabel) never matches a true id.
template <class FoundId, class TrueId>
double recall_at_k(std::span<const FoundId> found, std::size_t found_cols,
                   std::span<const TrueId> truth, std::size_t truth_cols, std::size_t k) {
  if (k == 0 || found_cols == 0 || truth_cols == 0) return 0.0;
  const std::size_t rows = std::min(found.size() / found_cols, truth.size() / truth_cols);
  const std::size_t kf = std::min(k, found_cols), kt = std::min(k, truth_cols);
  if (rows == 0) return 0.0;
  std::size_t hits = 0;
  std::vector<Label> want(kt);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < kt; ++j) want[j] = static_cast<Label>(truth[r * truth_cols + j]);
    std::sort(want.begin(), want.end());
    for (std::size_t j = 0; j < kf; ++j) {
      hits += std::binary_search(want.begin(), want.end(), static_cast<Label>(found[r * found_cols + j]));
    }
  }
  return static_cast<double>(hits) / static_cast<double>(rows * kt);
}

/// recall@k of a batch search against ground truth (e.g. read_ibin or an exact FlatIndex).
inline double recall_at_k(const SearchResults& found, const IdMatrix& truth, std::size_t k) {
  return recall_at_k<Label, Label>(found.ids, found.k, truth.ids, truth.cols, k);
}

}  // namespace ra
