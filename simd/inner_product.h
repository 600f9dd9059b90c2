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

/// Rows per block of 4-bit codes, and subspaces a block's subspace count is a multiple of.
inline constexpr std::size_t kCodeBlockRows = 32, kCodeSubspaceGroup = 4;

/// Quantized inner products ("fast scan"): each row is num_sub 4-bit codes, and its score the
/// sum over subspaces m of lut[m*16 + code(m)], 8-bit table entries summed in 16 bits exactly
/// (num_sub <= 256 keeps the sum below 2^16). `codes` holds num_blocks blocks of 32 rows,
/// block b at codes + b*num_sub*16; in a block, subspace m takes 16 bytes, byte j holding row
/// j's code in its low nibble and row j+16's in its high one. num_sub is a multiple of
/// kCodeSubspaceGroup (pad with code 0 and table entries 0). out: num_blocks * 32 sums.
void scan_codes4(const std::uint8_t* codes, std::size_t num_blocks, std::size_t num_sub,
                 const std::uint8_t* lut, std::uint16_t* out) noexcept;

}  // namespace ra::simd
