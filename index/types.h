#pragma once
// Common types: ids, element types and the non-owning matrix view every API takes.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "status.h"
#include "../simd/dtype.h"

namespace ra {

/// Position of a vector inside one index (0 .. size-1).
using NodeId = std::uint32_t;
/// An id returned to callers; kNoLabel pads results that have fewer than k entries.
using Label = std::int64_t;
inline constexpr Label kNoLabel = -1;

/// Row-major, non-owning view of `rows` vectors of `dim` elements of `dtype`: row i starts
/// `i * stride` elements after `data` (stride >= dim). The viewed memory must outlive the view.
struct MatrixView {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  std::size_t rows = 0;
  std::size_t dim = 0;
  std::size_t stride = 0;

  /// A dense f32 view (stride = dim unless given).
  static MatrixView f32(const float* data, std::size_t rows, std::size_t dim,
                        std::size_t stride = 0) noexcept {
    return {data, DType::kF32, rows, dim, stride ? stride : dim};
  }
  const std::byte* row_bytes(std::size_t i) const noexcept {
    return static_cast<const std::byte*>(data) + i * stride * dtype_size(dtype);
  }
  /// Row i as f32; only for dtype == kF32.
  const float* f32_row(std::size_t i) const noexcept {
    return static_cast<const float*>(data) + i * stride;
  }
  /// Rows [begin, end) as a view of the same memory.
  MatrixView slice_rows(std::size_t begin, std::size_t end) const noexcept {
    return {row_bytes(begin), dtype, end - begin, dim, stride};
  }
  bool empty() const noexcept { return rows == 0; }
};

/// How an index holds its keys.
enum class KeyOwnership : std::uint8_t {
  kCopy,       // the index copies the keys (GraphIndex: in BuildConfig::storage dtype) and owns them
  kReference,  // the index reads the caller's memory, which must outlive it (no copy)
};

/// A rows x cols block of ids, row-major (ground truth, kNN lists).
struct IdMatrix {
  std::size_t rows = 0, cols = 0;
  std::vector<Label> ids;
  const Label* row(std::size_t i) const noexcept { return ids.data() + i * cols; }
};

/// Checks the view's shape (non-null, dim > 0, stride >= dim), that its dtype is one of
/// `allowed` when given, and, when `check_finite`, that no element is NaN or infinite.
/// Errors name `what` ("keys", "queries").
Status validate_matrix(const MatrixView& m, std::string_view what, bool check_finite = true);
/// validate_matrix plus dtype == f32.
Status validate_f32_matrix(const MatrixView& m, std::string_view what, bool check_finite = true);
/// Keys of any dtype and f32 queries, both valid and finite, of the same dimension.
Status validate_keys_and_queries(const MatrixView& keys, const MatrixView& queries);

}  // namespace ra
