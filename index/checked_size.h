#pragma once
// Internal: size arithmetic on numbers read from files, which are not to be trusted. Every
// reader computes payload sizes with these and compares them with the file's length before
// it allocates anything.
#include <cstdint>
#include <initializer_list>
#include <optional>

namespace ra {

/// a * b, or nothing when it does not fit in 64 bits.
inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}
/// a + b, or nothing when it does not fit in 64 bits.
inline std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}
/// The product of `factors`, or nothing on overflow.
template <class Range>
std::optional<std::uint64_t> checked_product(const Range& factors) noexcept {
  std::uint64_t p = 1;
  for (auto f : factors) {
    const auto next = checked_mul(p, static_cast<std::uint64_t>(f));
    if (!next) return std::nullopt;
    p = *next;
  }
  return p;
}
inline std::optional<std::uint64_t> checked_product(std::initializer_list<std::uint64_t> factors) noexcept {
  return checked_product<std::initializer_list<std::uint64_t>>(factors);
}

}  // namespace ra
