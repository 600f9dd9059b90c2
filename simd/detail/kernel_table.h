#pragma once
// The function-pointer table each SIMD level fills; private to simd/.
#include <cstddef>
#include <cstdint>

#include "simd/dtype.h"

namespace ra::simd::detail {

struct KernelTable {
  using Dot = float (*)(const float*, const float*, std::size_t) noexcept;
  using Rows = void (*)(const float*, const void*, std::size_t, std::size_t, std::size_t,
                        float*) noexcept;
  using Gather = void (*)(const float*, const void*, std::size_t, const std::uint32_t*,
                          std::size_t, std::size_t, float*) noexcept;
  using Block = void (*)(const float*, std::size_t, std::size_t, const void*, std::size_t,
                         std::size_t, std::size_t, float*, std::size_t) noexcept;
  using Axpy = void (*)(float, const void*, float*, std::size_t) noexcept;
  using Widen = void (*)(const void*, std::size_t, float*) noexcept;
  using Scan4 = void (*)(const std::uint8_t*, std::size_t, std::size_t, const std::uint8_t*,
                         std::uint16_t*) noexcept;

  Dot dot;
  Rows rows[kNumDTypes];  // indexed by DType
  Gather gather[kNumDTypes];
  Block block[kNumDTypes];
  Axpy axpy[kNumDTypes];
  Widen widen[kNumDTypes];
  Scan4 scan4;
};

/// The plain loop of scan_codes4 (kernels_scalar.cpp): the scalar level's, and that of any level
/// without a byte shuffle of its own.
void scan4_scalar(const std::uint8_t* codes, std::size_t num_blocks, std::size_t num_sub,
                  const std::uint8_t* lut, std::uint16_t* out) noexcept;

// One per compiled level; each is defined in its own translation unit.
extern const KernelTable kScalarKernels;
extern const KernelTable kAvx2Kernels;
extern const KernelTable kAvx512Kernels;
extern const KernelTable kNeonKernels;

}  // namespace ra::simd::detail
