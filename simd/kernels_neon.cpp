// NEON level (aarch64 only). Instantiates neon64 only.
#include <arm_neon.h>

#include "simd/detail/kernels.h"

namespace ra::simd::detail {

using Neon = xsimd::neon64;

template <>
struct Load<Neon, Float16> {
  static FloatBatch<Neon> full(const Float16* p) noexcept {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(p))));
  }
  static FloatBatch<Neon> partial(const Float16* p, std::size_t n) noexcept {
    return load_padded<Neon>(p, n, &full);
  }
};

template <>
struct Load<Neon, BFloat16> {
  static FloatBatch<Neon> full(const BFloat16* p) noexcept {
    const uint32x4_t wide = vshll_n_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(p)), 16);
    return vreinterpretq_f32_u32(wide);
  }
  static FloatBatch<Neon> partial(const BFloat16* p, std::size_t n) noexcept {
    return load_padded<Neon>(p, n, &full);
  }
};

const KernelTable kNeonKernels = make_table<Neon, 4, 4>();

}  // namespace ra::simd::detail
