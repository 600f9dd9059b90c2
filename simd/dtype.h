#pragma once
// Element types of stored vectors and their scalar conversions. Queries and accumulators are
// always f32; keys may be stored as f32, f16 (IEEE binary16) or bf16 (bfloat16).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ra {

enum class DType : std::uint8_t { kF32 = 0, kF16 = 1, kBF16 = 2 };
inline constexpr int kNumDTypes = 3;

/// Raw IEEE binary16 bits. A distinct type so that f16 and bf16 buffers cannot be mixed up.
struct Float16 {
  std::uint16_t bits;
};
/// Raw bfloat16 bits (the upper half of an f32).
struct BFloat16 {
  std::uint16_t bits;
};

constexpr std::size_t dtype_size(DType t) noexcept { return t == DType::kF32 ? 4 : 2; }
std::string_view dtype_name(DType t) noexcept;
/// Parses "f32", "f16" or "bf16"; returns false for anything else.
bool parse_dtype(std::string_view name, DType* out) noexcept;

// Conversions follow IEEE 754: subnormals are kept, infinities map to infinities, NaN stays NaN
// (quietened), and narrowing rounds to nearest, ties to even. Out of line on purpose: the
// per-ISA kernel TUs must not share inline helpers (the linker could keep an AVX-512 copy).
float to_float(Float16 h) noexcept;
float to_float(BFloat16 h) noexcept;
inline float to_float(float x) noexcept { return x; }
Float16 to_f16(float x) noexcept;
BFloat16 to_bf16(float x) noexcept;

/// Converts n f32 values into the destination dtype (dst holds n elements of that dtype).
void convert_from_f32(const float* src, std::size_t n, DType dst_type, void* dst) noexcept;
/// Converts n elements of src_type into f32 (exact; a dispatched SIMD kernel, simd/dispatch.cpp).
void convert_to_f32(const void* src, DType src_type, std::size_t n, float* dst) noexcept;

}  // namespace ra
