#pragma once
// Matrix: an owning, 64-byte aligned, row-major block of vectors of one dtype.
#include <cstddef>
#include <memory>

#include "result.h"
#include "types.h"

namespace ra {

class Matrix {
 public:
  Matrix() = default;
  /// Zero-filled rows x dim of `dtype`; ResourceExhausted when it cannot be allocated.
  static Result<Matrix> zeros(std::size_t rows, std::size_t dim, DType dtype = DType::kF32);
  /// A dense copy of any view, converted to `dtype`.
  static Result<Matrix> copy_of(const MatrixView& src, DType dtype = DType::kF32);

  std::size_t rows() const noexcept { return rows_; }
  std::size_t dim() const noexcept { return dim_; }
  DType dtype() const noexcept { return dtype_; }
  std::size_t bytes() const noexcept { return rows_ * dim_ * dtype_size(dtype_); }
  bool empty() const noexcept { return rows_ == 0; }

  MatrixView view() const noexcept { return {data_.get(), dtype_, rows_, dim_, dim_}; }
  void* data() noexcept { return data_.get(); }
  const void* data() const noexcept { return data_.get(); }
  std::byte* row_bytes(std::size_t i) noexcept {
    return static_cast<std::byte*>(data_.get()) + i * dim_ * dtype_size(dtype_);
  }
  /// Row i as f32; only for dtype == kF32.
  float* f32_row(std::size_t i) noexcept { return static_cast<float*>(data_.get()) + i * dim_; }
  const float* f32_row(std::size_t i) const noexcept {
    return static_cast<const float*>(data_.get()) + i * dim_;
  }

 private:
  struct Free {
    void operator()(void* p) const noexcept;
  };
  std::unique_ptr<void, Free> data_;
  DType dtype_ = DType::kF32;
  std::size_t rows_ = 0, dim_ = 0;
};

}  // namespace ra
