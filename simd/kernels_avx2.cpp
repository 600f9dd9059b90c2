// AVX2 + FMA + F16C level. Compiled with -mavx2 -mfma -mf16c; instantiates fma3<avx2> only.
#include <immintrin.h>

#include "simd/detail/kernels.h"

namespace ra::simd::detail {

using Avx2 = xsimd::fma3<xsimd::avx2>;

template <>
struct Load<Avx2, float> {
  static FloatBatch<Avx2> full(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static FloatBatch<Avx2> partial(const float* p, std::size_t n) noexcept {
    alignas(32) static constexpr int kLane[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                                            _mm256_load_si256(reinterpret_cast<const __m256i*>(kLane)));
    return _mm256_maskload_ps(p, mask);
  }
};

template <>
struct Load<Avx2, Float16> {
  static FloatBatch<Avx2> full(const Float16* p) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static FloatBatch<Avx2> partial(const Float16* p, std::size_t n) noexcept {
    return load_padded<Avx2>(p, n, &full);
  }
};

template <>
struct Load<Avx2, BFloat16> {
  static FloatBatch<Avx2> full(const BFloat16* p) noexcept {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static FloatBatch<Avx2> partial(const BFloat16* p, std::size_t n) noexcept {
    return load_padded<Avx2>(p, n, &full);
  }
};

// 4 queries x 2 rows: 8 accumulators + 2 rows + 1 query of the 16 ymm registers.
const KernelTable kAvx2Kernels = make_table<Avx2, 4, 2>();

}  // namespace ra::simd::detail
