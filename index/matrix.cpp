#include "index/matrix.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "index/api_guard.h"

namespace ra {

void Matrix::Free::operator()(void* p) const noexcept { std::free(p); }

Result<Matrix> Matrix::zeros(std::size_t rows, std::size_t dim, DType dtype) {
  Matrix m;
  m.rows_ = rows;
  m.dim_ = dim;
  m.dtype_ = dtype;
  const std::size_t bytes = rows * dim * dtype_size(dtype);
  if (dim != 0 && bytes / dim / dtype_size(dtype) != rows) {
    return Status::ResourceExhausted("matrix size overflows: " + std::to_string(rows) + " x " +
                                     std::to_string(dim));
  }
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (p == nullptr) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(bytes) + " bytes for a " +
                                     std::to_string(rows) + " x " + std::to_string(dim) + " matrix");
  }
  std::memset(p, 0, rounded == 0 ? 64 : rounded);
  m.data_.reset(p);
  return m;
}

Result<Matrix> Matrix::copy_of(const MatrixView& src, DType dtype) {
  RA_API_TRY
  RA_ASSIGN_OR_RETURN(Matrix m, zeros(src.rows, src.dim, dtype));
  std::vector<float> row(src.dim);
  for (std::size_t i = 0; i < src.rows; ++i) {
    if (src.dtype == dtype) {
      std::memcpy(m.row_bytes(i), src.row_bytes(i), src.dim * dtype_size(dtype));
    } else {
      convert_to_f32(src.row_bytes(i), src.dtype, src.dim, row.data());
      convert_from_f32(row.data(), src.dim, dtype, m.row_bytes(i));
    }
  }
  return m;
  RA_API_CATCH("matrix copy")
}

}  // namespace ra
