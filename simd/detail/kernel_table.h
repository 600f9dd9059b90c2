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

  Dot dot;
  Rows rows[kNumDTypes];  // indexed by DType
  Gather gather[kNumDTypes];
  Block block[kNumDTypes];
  Axpy axpy[kNumDTypes];
  Widen widen[kNumDTypes];
};

// One per compiled level; each is defined in its own translation unit.
extern const KernelTable kScalarKernels;
extern const KernelTable kAvx2Kernels;
extern const KernelTable kAvx512Kernels;
extern const KernelTable kNeonKernels;

}  // namespace ra::simd::detail
