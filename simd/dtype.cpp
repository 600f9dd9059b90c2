#include "simd/dtype.h"

#include "simd/detail/half_bits.h"

#include <bit>
#include <cstring>

namespace ra {

std::string_view dtype_name(DType t) noexcept {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
  }
  return "?";
}

bool parse_dtype(std::string_view name, DType* out) noexcept {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    if (name == dtype_name(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

float to_float(Float16 h) noexcept { return simd::detail::f16_bits_to_f32(h.bits); }

float to_float(BFloat16 h) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h.bits) << 16);
}

Float16 to_f16(float x) noexcept {
  const std::uint32_t f = std::bit_cast<std::uint32_t>(x);
  const std::uint16_t sign = static_cast<std::uint16_t>((f >> 16) & 0x8000u);
  const std::uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    return {static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u))};
  }
  if (abs >= 0x477ff000u) return {static_cast<std::uint16_t>(sign | 0x7c00u)};  // rounds to inf
  if (abs < 0x38800000u) {  // result is subnormal or zero in half
    if (abs < 0x33000000u) return {sign};  // below half the smallest subnormal
    const std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);  // in [14, 24]
    std::uint32_t half = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u);
    const std::uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return {static_cast<std::uint16_t>(sign | half)};
  }
  std::uint32_t half = ((abs >> 13) - (112u << 10));
  const std::uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent
  return {static_cast<std::uint16_t>(sign | half)};
}

BFloat16 to_bf16(float x) noexcept {
  const std::uint32_t f = std::bit_cast<std::uint32_t>(x);
  if ((f & 0x7fffffffu) > 0x7f800000u) {
    return {static_cast<std::uint16_t>((f >> 16) | 0x40u)};  // quiet NaN, sign kept
  }
  const std::uint32_t rounding = 0x7fffu + ((f >> 16) & 1u);
  return {static_cast<std::uint16_t>((f + rounding) >> 16)};
}

void convert_from_f32(const float* src, std::size_t n, DType dst_type, void* dst) noexcept {
  switch (dst_type) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      auto* out = static_cast<Float16*>(dst);
      for (std::size_t i = 0; i < n; ++i) out[i] = to_f16(src[i]);
      return;
    }
    case DType::kBF16: {
      auto* out = static_cast<BFloat16*>(dst);
      for (std::size_t i = 0; i < n; ++i) out[i] = to_bf16(src[i]);
      return;
    }
  }
}

}  // namespace ra
