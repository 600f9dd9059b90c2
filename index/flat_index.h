#pragma once
// FlatIndex: exact top-k MIPS by scanning every key. The ground-truth oracle of this project,
// blocked (queries x keys tiles on the block kernel) so that a scan runs near memory bandwidth.
#include <cstdint>
#include <memory>

#include "matrix.h"
#include "result.h"
#include "search.h"

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

  /// Exact top-p.k of every query (f32, queries.dim == dim(), 1 <= p.k <= size(); p.beam is
  /// not used). Thread-safe; runs on p.num_threads OpenMP threads (0: all).
  Status search(const MatrixView& queries, const SearchParams& p, SearchResults* out) const;

 private:
  FlatIndex() = default;
  std::shared_ptr<const Matrix> owned_;
  MatrixView keys_;
};

}  // namespace ra
