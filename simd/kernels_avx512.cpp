// AVX-512 (F, CD, DQ, BW, VL) level. Compiled with -mavx512{f,cd,dq,bw,vl}; instantiates avx512bw only.
#include <immintrin.h>

#include "simd/detail/kernels.h"

namespace ra::simd::detail {

using Avx512 = xsimd::avx512bw;

namespace {
__mmask16 first_lanes(std::size_t n) noexcept {
  return static_cast<__mmask16>((1u << n) - 1u);
}
}  // namespace

template <>
struct Load<Avx512, float> {
  static FloatBatch<Avx512> full(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static FloatBatch<Avx512> partial(const float* p, std::size_t n) noexcept {
    return _mm512_maskz_loadu_ps(first_lanes(n), p);
  }
};

template <>
struct Load<Avx512, Float16> {
  static FloatBatch<Avx512> full(const Float16* p) noexcept {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static FloatBatch<Avx512> partial(const Float16* p, std::size_t n) noexcept {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(first_lanes(n), p));
  }
};

template <>
struct Load<Avx512, BFloat16> {
  static FloatBatch<Avx512> full(const BFloat16* p) noexcept {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static FloatBatch<Avx512> partial(const BFloat16* p, std::size_t n) noexcept {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(first_lanes(n), p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
};

// Folds each 16-lane accumulator to 8 lanes, then reduces each group of 8 with the AVX2 tree.
template <>
struct ReduceLanes<Avx512> {
  static void run(const FloatBatch<Avx512>* acc, float* out) noexcept {
    xsimd::batch<float, xsimd::avx2> half[16];
    for (int i = 0; i < 16; ++i) {
      half[i] = _mm256_add_ps(_mm512_castps512_ps256(acc[i]), _mm512_extractf32x8_ps(acc[i], 1));
    }
    xsimd::haddp(half).store_unaligned(out);
    xsimd::haddp(half + 8).store_unaligned(out + 8);
  }
};

// 4 queries x 4 rows: 16 accumulators + 4 rows + 1 query of the 32 zmm registers.
const KernelTable kAvx512Kernels = make_table<Avx512, 4, 4>();

}  // namespace ra::simd::detail
