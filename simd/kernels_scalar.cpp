// Scalar level: plain loops in index order, compiled for the baseline ISA. The fallback on
// any CPU and the reference the SIMD levels are tested against.
#include <algorithm>

#include "simd/detail/half_bits.h"
#include "simd/detail/kernel_table.h"

namespace ra::simd::detail {
namespace {

// Inlined conversions: the out-of-line ones in dtype.cpp cost a call per element.
float widen(float x) noexcept { return x; }
float widen(Float16 x) noexcept { return f16_bits_to_f32(x.bits); }
float widen(BFloat16 x) noexcept { return std::bit_cast<float>(static_cast<std::uint32_t>(x.bits) << 16); }

template <class T>
float dot_one(const float* q, const T* x, std::size_t dim) noexcept {
  float acc = 0.0f;
  for (std::size_t i = 0; i < dim; ++i) acc += q[i] * widen(x[i]);
  return acc;
}

float dot(const float* a, const float* b, std::size_t dim) noexcept {
  return dot_one(a, b, dim);
}

template <class T>
void rows(const float* q, const void* base, std::size_t stride, std::size_t n, std::size_t dim,
          float* out) noexcept {
  const T* r = static_cast<const T*>(base);
  for (std::size_t j = 0; j < n; ++j) out[j] = dot_one(q, r + j * stride, dim);
}

template <class T>
void gather(const float* q, const void* base, std::size_t stride, const std::uint32_t* ids,
            std::size_t n, std::size_t dim, float* out) noexcept {
  const T* r = static_cast<const T*>(base);
  for (std::size_t j = 0; j < n; ++j) out[j] = dot_one(q, r + ids[j] * stride, dim);
}

template <class T>
void block(const float* q, std::size_t q_stride, std::size_t nq, const void* base,
           std::size_t row_stride, std::size_t nr, std::size_t dim, float* out,
           std::size_t out_stride) noexcept {
  for (std::size_t i = 0; i < nq; ++i) {
    rows<T>(q + i * q_stride, base, row_stride, nr, dim, out + i * out_stride);
  }
}

template <class T>
void axpy(float w, const void* x, float* y, std::size_t dim) noexcept {
  const T* xs = static_cast<const T*>(x);
  for (std::size_t i = 0; i < dim; ++i) y[i] += w * widen(xs[i]);
}

template <class T>
void widen_all(const void* src, std::size_t n, float* dst) noexcept {
  const T* s = static_cast<const T*>(src);
  for (std::size_t i = 0; i < n; ++i) dst[i] = widen(s[i]);
}

}  // namespace

void scan4_scalar(const std::uint8_t* codes, std::size_t num_blocks, std::size_t num_sub,
                  const std::uint8_t* lut, std::uint16_t* out) noexcept {
  for (std::size_t b = 0; b < num_blocks; ++b, codes += num_sub * 16, out += 32) {
    std::uint16_t acc[32] = {};
    for (std::size_t m = 0; m < num_sub; ++m) {
      const std::uint8_t* c = codes + m * 16;
      const std::uint8_t* t = lut + m * 16;
      for (std::size_t j = 0; j < 16; ++j) {
        acc[j] = static_cast<std::uint16_t>(acc[j] + t[c[j] & 15]);
        acc[j + 16] = static_cast<std::uint16_t>(acc[j + 16] + t[c[j] >> 4]);
      }
    }
    std::copy(acc, acc + 32, out);
  }
}

const KernelTable kScalarKernels{
    &dot,
    {&rows<float>, &rows<Float16>, &rows<BFloat16>},
    {&gather<float>, &gather<Float16>, &gather<BFloat16>},
    {&block<float>, &block<Float16>, &block<BFloat16>},
    {&axpy<float>, &axpy<Float16>, &axpy<BFloat16>},
    {&widen_all<float>, &widen_all<Float16>, &widen_all<BFloat16>},
    &scan4_scalar,
};

}  // namespace ra::simd::detail
