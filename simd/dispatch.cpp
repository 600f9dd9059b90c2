// Picks the kernel table once at start-up; every public kernel is one indirect call into it.
#include <atomic>

#include "simd/detail/kernel_table.h"
#include "simd/inner_product.h"
#include "simd/simd_level.h"

namespace ra::simd {
namespace {

using detail::KernelTable;

const KernelTable* compiled_table(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::kScalar: return &detail::kScalarKernels;
#if RA_SIMD_HAVE_AVX2
    case SimdLevel::kAvx2: return &detail::kAvx2Kernels;
#endif
#if RA_SIMD_HAVE_AVX512
    case SimdLevel::kAvx512: return &detail::kAvx512Kernels;
#endif
#if RA_SIMD_HAVE_NEON
    case SimdLevel::kNeon: return &detail::kNeonKernels;
#endif
    default: return nullptr;
  }
}

bool cpu_supports(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::kScalar: return true;
#if defined(__x86_64__) || defined(__i386__)
    // __builtin_cpu_supports also checks that the OS saves the wide registers.
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
    case SimdLevel::kNeon: return true;
#endif
    default: return false;
  }
}

bool usable(SimdLevel level) noexcept {
  return compiled_table(level) != nullptr && cpu_supports(level);
}

SimdLevel detect_best() noexcept {
  for (SimdLevel l : {SimdLevel::kAvx512, SimdLevel::kAvx2, SimdLevel::kNeon}) {
    if (usable(l)) return l;
  }
  return SimdLevel::kScalar;
}

struct Active {
  std::atomic<SimdLevel> level{best_level()};
  std::atomic<const KernelTable*> table{compiled_table(best_level())};
};

Active& active() noexcept {
  static Active state;
  return state;
}

const KernelTable& table() noexcept { return *active().table.load(std::memory_order_relaxed); }

int index_of(DType t) noexcept { return static_cast<int>(t); }

}  // namespace

std::string_view level_name(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kNeon: return "neon";
  }
  return "?";
}

std::vector<SimdLevel> supported_levels() {
  std::vector<SimdLevel> out;
  for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512, SimdLevel::kNeon}) {
    if (usable(l)) out.push_back(l);
  }
  return out;
}

SimdLevel best_level() noexcept {
  static const SimdLevel best = detect_best();
  return best;
}

SimdLevel active_level() noexcept { return active().level.load(std::memory_order_relaxed); }

bool set_level(SimdLevel level) noexcept {
  if (!usable(level)) return false;
  active().table.store(compiled_table(level), std::memory_order_relaxed);
  active().level.store(level, std::memory_order_relaxed);
  return true;
}

float dot(const float* a, const float* b, std::size_t dim) noexcept {
  return table().dot(a, b, dim);
}

void dot_rows(const float* q, const void* rows, DType dtype, std::size_t stride, std::size_t n,
              std::size_t dim, float* out) noexcept {
  table().rows[index_of(dtype)](q, rows, stride, n, dim, out);
}

void dot_gather(const float* q, const void* base, DType dtype, std::size_t stride,
                const std::uint32_t* ids, std::size_t n, std::size_t dim, float* out) noexcept {
  table().gather[index_of(dtype)](q, base, stride, ids, n, dim, out);
}

void dot_block(const float* q, std::size_t q_stride, std::size_t nq, const void* rows,
               DType dtype, std::size_t row_stride, std::size_t nr, std::size_t dim, float* out,
               std::size_t out_stride) noexcept {
  table().block[index_of(dtype)](q, q_stride, nq, rows, row_stride, nr, dim, out, out_stride);
}

void axpy(float w, const void* x, DType dtype, float* y, std::size_t dim) noexcept {
  table().axpy[index_of(dtype)](w, x, y, dim);
}

}  // namespace ra::simd
