#pragma once
// Inner-product kernels: f32 queries against f32, f16 or bf16 rows, accumulating in f32.
// Every call dispatches once (a table lookup) to the active SIMD level; the loops inside are
// branch-free over the dtype. Strides are counted in elements of the row dtype. Pointers need
// no alignment. All functions are thread-safe and allocate nothing.
#include <cstddef>
#include <cstdint>

#include "dtype.h"

namespace ra::simd {

/// <a, b> over `dim` floats.
float dot(const float* a, const float* b, std::size_t dim) noexcept;

/// out[i] = <q, rows[i]> for the n rows starting at `rows`, row i at rows + i*stride.
void dot_rows(const float* q, const void* rows, DType dtype, std::size_t stride, std::size_t n,
              std::size_t dim, float* out) noexcept;

/// out[i] = <q, base[ids[i]]> with row r at base + r*stride; prefetches the rows ahead.
void dot_gather(const float* q, const void* base, DType dtype, std::size_t stride,
                const std::uint32_t* ids, std::size_t n, std::size_t dim, float* out) noexcept;

/// out[i*out_stride + j] = <q_i, row_j> for nq queries (f32, q_i at q + i*q_stride) and nr
/// rows: the register-blocked kernel of exact scans.
void dot_block(const float* q, std::size_t q_stride, std::size_t nq, const void* rows,
               DType dtype, std::size_t row_stride, std::size_t nr, std::size_t dim, float* out,
               std::size_t out_stride) noexcept;

/// y += w * x, x in `dtype`, y in f32 (accumulating attention values).
void axpy(float w, const void* x, DType dtype, float* y, std::size_t dim) noexcept;

}  // namespace ra::simd
