#pragma once
// Branch-light f16 -> f32 on raw bits (after F. Giesen's half_to_float). For baseline-ISA
// translation units only (dtype.cpp, kernels_scalar.cpp): an inline helper shared with an
// AVX TU could be linked in its AVX-compiled copy.
#include <bit>
#include <cstdint>

namespace ra::simd::detail {

inline float f16_bits_to_f32(std::uint16_t h) noexcept {
  constexpr std::uint32_t kExpMask = 0x7c00u << 13;  // the half exponent, shifted into place
  std::uint32_t bits = (h & 0x7fffu) << 13;
  const std::uint32_t exp = bits & kExpMask;
  bits += (127u - 15u) << 23;  // rebias the exponent
  float f;
  if (exp == kExpMask) {  // inf or NaN: move to the f32 all-ones exponent, quieten NaNs
    bits += (128u - 16u) << 23;
    if (bits & 0x7fffffu) bits |= 0x400000u;
    f = std::bit_cast<float>(bits);
  } else if (exp == 0) {  // zero or subnormal: renormalise with one float subtraction
    bits += 1u << 23;
    f = std::bit_cast<float>(bits) - std::bit_cast<float>(113u << 23);
  } else {
    f = std::bit_cast<float>(bits);
  }
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(f) |
                              (static_cast<std::uint32_t>(h & 0x8000u) << 16));
}

}  // namespace ra::simd::detail
