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

namespace {

// Fast scan: one 256-bit shuffle looks up 16 rows in two subspaces' tables (one per 128-bit
// lane). The 8-bit results are summed as 16-bit pairs: `all` adds a pair as even + 256 odd,
// `odd` its high byte alone, so even = all - 256 odd (mod 2^16, exact: the sums are below 2^16).
void scan4_avx2(const std::uint8_t* codes, std::size_t num_blocks, std::size_t num_sub,
                const std::uint8_t* lut, std::uint16_t* out) noexcept {
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  for (std::size_t b = 0; b < num_blocks; ++b, codes += num_sub * 16, out += 32) {
    __m256i all_lo = _mm256_setzero_si256(), odd_lo = all_lo, all_hi = all_lo, odd_hi = all_lo;
    for (std::size_t m = 0; m < num_sub; m += 2) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + m * 16));
      const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut + m * 16));
      const __m256i lo = _mm256_shuffle_epi8(t, _mm256_and_si256(c, nibble));
      const __m256i hi = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), nibble));
      all_lo = _mm256_add_epi16(all_lo, lo);
      odd_lo = _mm256_add_epi16(odd_lo, _mm256_srli_epi16(lo, 8));
      all_hi = _mm256_add_epi16(all_hi, hi);
      odd_hi = _mm256_add_epi16(odd_hi, _mm256_srli_epi16(hi, 8));
    }
    auto store = [](std::uint16_t* o, __m256i all, __m256i odd) {
      const __m128i a = _mm_add_epi16(_mm256_castsi256_si128(all), _mm256_extracti128_si256(all, 1));
      const __m128i od = _mm_add_epi16(_mm256_castsi256_si128(odd), _mm256_extracti128_si256(odd, 1));
      const __m128i ev = _mm_sub_epi16(a, _mm_slli_epi16(od, 8));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm_unpacklo_epi16(ev, od));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 8), _mm_unpackhi_epi16(ev, od));
    };
    store(out, all_lo, odd_lo);
    store(out + 16, all_hi, odd_hi);
  }
}

}  // namespace

// 4 queries x 2 rows: 8 accumulators + 2 rows + 1 query of the 16 ymm registers.
const KernelTable kAvx2Kernels = make_table<Avx2, 4, 2>(&scan4_avx2);

}  // namespace ra::simd::detail
