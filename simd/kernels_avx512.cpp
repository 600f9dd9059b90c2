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

// bf16 rows, 32 elements a step: one 64-byte load holds 16 pairs; shifting each 32-bit lane
// left by 16 gives the even elements as f32, masking off its low half gives the odd ones, and
// the query is split into its even and odd elements to match. A load, two integer operations
// and two FMAs per 32 elements instead of two widening loads (cross-lane shuffles), two shifts
// and two FMAs: 1.5x on L2-resident rows, where the widening was the limit.
template <>
struct WideTile<Avx512, BFloat16> {
  static void run(const float* q, const BFloat16* const* rows, const void* const* ahead, std::size_t dim,
                  float* out) noexcept {
    using B = FloatBatch<Avx512>;
    const __m512i even_lanes = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd_lanes = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i high_halves = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    B acc[16];
    for (auto& a : acc) a = B(0.0f);
    std::size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
      const __m512 q0 = _mm512_loadu_ps(q + i), q1 = _mm512_loadu_ps(q + i + 16);
      const __m512 q_even = _mm512_permutex2var_ps(q0, even_lanes, q1);
      const __m512 q_odd = _mm512_permutex2var_ps(q0, odd_lanes, q1);
      prefetch_lines<16>(ahead, i * sizeof(BFloat16));
      for (int b = 0; b < 16; ++b) {
        const __m512i pairs = _mm512_loadu_si512(rows[b] + i);
        const __m512 even = _mm512_castsi512_ps(_mm512_slli_epi32(pairs, 16));
        const __m512 odd = _mm512_castsi512_ps(_mm512_and_si512(pairs, high_halves));
        acc[b] = _mm512_fmadd_ps(q_even, even, _mm512_fmadd_ps(q_odd, odd, acc[b]));
      }
    }
    for (; i < dim; i += 16) {
      const std::size_t n = std::min<std::size_t>(16, dim - i);
      const B qv = Load<Avx512, float>::partial(q + i, n);
      for (int b = 0; b < 16; ++b) acc[b] = xsimd::fma(qv, Load<Avx512, BFloat16>::partial(rows[b] + i, n), acc[b]);
    }
    if (dim * sizeof(BFloat16) % 64 != 0) prefetch_lines<16>(ahead, dim * sizeof(BFloat16) - 1);
    ReduceLanes<Avx512>::run(acc, out);
  }
};

namespace {

// <q, row> with 256-bit loads over four accumulators, prefetching `ahead` bytes past each line.
// Intrinsics, not row_by_row_tile<fma3<avx2>>: that instantiation also lives in the AVX2 TU, and
// the linker could keep this TU's copy (compiled for AVX-512) for the AVX2 table.
float dot_ymm(const float* q, const float* row, std::size_t ahead, std::size_t dim) noexcept {
  const char* pf = reinterpret_cast<const char*>(row) + ahead;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    _mm_prefetch(pf + i * sizeof(float), _MM_HINT_T0);
    _mm_prefetch(pf + i * sizeof(float) + 64, _MM_HINT_T0);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(row + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(row + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16), _mm256_loadu_ps(row + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24), _mm256_loadu_ps(row + i + 24), a3);
  }
  for (; i < dim; i += 8) {
    const auto lanes = static_cast<__mmask8>(dim - i >= 8 ? 0xFFu : (1u << (dim - i)) - 1u);
    _mm_prefetch(pf + i * sizeof(float), _MM_HINT_T0);
    a1 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(lanes, q + i), _mm256_maskz_loadu_ps(lanes, row + i), a1);
  }
  if (dim % 16 != 0) _mm_prefetch(pf + dim * sizeof(float) - 1, _MM_HINT_T0);  // a last line the loops missed
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

// Fast scan as in the AVX2 level (see scan4_avx2 there), four subspaces per 512-bit shuffle.
void scan4_avx512(const std::uint8_t* codes, std::size_t num_blocks, std::size_t num_sub,
                  const std::uint8_t* lut, std::uint16_t* out) noexcept {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  for (std::size_t b = 0; b < num_blocks; ++b, codes += num_sub * 16, out += 32) {
    __m512i all_lo = _mm512_setzero_si512(), odd_lo = all_lo, all_hi = all_lo, odd_hi = all_lo;
    for (std::size_t m = 0; m < num_sub; m += 4) {
      const __m512i c = _mm512_loadu_si512(codes + m * 16);
      const __m512i t = _mm512_loadu_si512(lut + m * 16);
      const __m512i lo = _mm512_shuffle_epi8(t, _mm512_and_si512(c, nibble));
      const __m512i hi = _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(c, 4), nibble));
      all_lo = _mm512_add_epi16(all_lo, lo);
      odd_lo = _mm512_add_epi16(odd_lo, _mm512_srli_epi16(lo, 8));
      all_hi = _mm512_add_epi16(all_hi, hi);
      odd_hi = _mm512_add_epi16(odd_hi, _mm512_srli_epi16(hi, 8));
    }
    auto lanes = [](__m512i v) {  // the four 128-bit lanes (subspaces m, m+1, m+2, m+3) summed
      const __m256i h = _mm256_add_epi16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
      return _mm_add_epi16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    };
    auto store = [&](std::uint16_t* o, __m512i all, __m512i odd) {
      const __m128i od = lanes(odd), ev = _mm_sub_epi16(lanes(all), _mm_slli_epi16(od, 8));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm_unpacklo_epi16(ev, od));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 8), _mm_unpackhi_epi16(ev, od));
    };
    store(out, all_lo, odd_lo);
    store(out + 16, all_hi, odd_hi);
  }
}

}  // namespace

// f32 rows: scans longer than 8 MiB are read with 256-bit loads. On this project's AMD EPYC
// (Zen 5) VMs the 512-bit kernel led up to 4 MiB of rows (warm, best of 20 passes: 83-93 GB/s
// against 66-76), tied at 8 MiB and fell behind from 16 MiB on, once the rows came from L3 or
// DRAM (16 MiB 51-60 against 72-74 GB/s, 32 MiB 37-43 against 50-64, 64 MiB 34-37 against 37-52).
template <>
struct F32Rows<Avx512> {
  static void run(const float* q, const float* r, std::size_t stride, std::size_t n, std::size_t dim,
                  float* out) noexcept {
    if (n * dim * sizeof(float) <= (std::size_t{8} << 20)) return rows_row_by_row<Avx512>(q, r, stride, n, dim, out);
    const std::size_t ahead = rows_ahead<float>(dim);
    for (std::size_t j = 0; j < n; ++j) {
      out[j] = dot_ymm(q, r + j * stride, std::min(ahead, n - 1 - j) * stride * sizeof(float), dim);
    }
  }
};

// 4 queries x 4 rows: 16 accumulators + 4 rows + 1 query of the 32 zmm registers.
const KernelTable kAvx512Kernels = make_table<Avx512, 4, 4>(&scan4_avx512);

}  // namespace ra::simd::detail
