#pragma once
// FlatIndex: exact top-k MIPS by scanning every key. The ground-truth oracle of this project,
// blocked (queries x keys tiles on the block kernel) so that a scan runs near memory bandwidth.
#include <cstdint>
#include <memory>

#include "index/matrix.h"
#include "index/result.h"
#include "index/search.h"

namespace ra {

class FlatIndex {
 public:
  /// An index over the caller's keys (f32, f16 or bf16), which must outlive it. Validates the
  /// view (shape, finite values).
  static Result<FlatIndex> over(const MatrixView& keys);
  /// An index that owns its keys.
  static Result<FlatIndex> owning(Matrix keys);

  std::size_t size() const noexcept { return keys_.rows; }
  std::size_t dim() const noexcept { return keys_.dim; }
  const MatrixView& keys() const noexcept { return keys_; }

  /// Exact top-k of every query (f32, queries.dim == dim(), 1 <= k <= size()).
  /// Thread-safe; runs on `num_threads` OpenMP threads (0: all).
  Status search(const MatrixView& queries, std::uint32_t k, SearchResults* out,
                std::uint32_t num_threads = 0) const;

 private:
  FlatIndex() = default;
  std::shared_ptr<const Matrix> owned_;
  MatrixView keys_;
};

/// recall@k of `found` against `truth`: the mean share of each query's true top-k that was
/// found (found and truth may hold more than k columns; the first k of each count).
double recall_at_k(const SearchResults& found, const IdMatrix& truth, std::size_t k);

}  // namespace ra
