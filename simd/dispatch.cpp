// Picks the kernel table once, at the first kernel call (see simd_level.h); every public kernel
// is then one indirect call into it.
#include <atomic>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <cstdlib>
#include <string_view>

#include "simd/detail/calibration.h"
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

#if defined(__x86_64__) || defined(__i386__)
// CPUID leaf 1, ECX bit 29 (clang 14's __builtin_cpu_supports does not know "f16c").
bool cpu_has_f16c() noexcept {
  unsigned eax, ebx, ecx, edx;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}
#endif

bool cpu_supports(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::kScalar: return true;
#if defined(__x86_64__) || defined(__i386__)
    // __builtin_cpu_supports also checks that the OS saves the wide registers.
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
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

// The start-up choice (calibrated, highest, or forced by RA_SIMD_LEVEL) and what is in force.
struct Active {
  Active() noexcept {
    std::vector<SimdLevel> levels = supported_levels();
    if (levels.size() > 1) levels.erase(levels.begin());  // scalar only as the last resort
    SimdLevel env_level;
    if (level_from_env(&env_level)) {
      mode = "forced by RA_SIMD_LEVEL";
      chosen = detail::uniform(env_level, &compiled_table, &choices);
    } else if (const char* c = std::getenv("RA_SIMD_CALIBRATE"); c != nullptr && std::string_view(c) == "0") {
      mode = "highest (RA_SIMD_CALIBRATE=0)";
      chosen = detail::uniform(levels.back(), &compiled_table, &choices);
    } else {
      mode = "calibrated";
      chosen = detail::calibrate(levels, &compiled_table, &choices);
    }
    table.store(&chosen, std::memory_order_relaxed);
  }
  static bool level_from_env(SimdLevel* out) noexcept {
    const char* v = std::getenv("RA_SIMD_LEVEL");
    if (v == nullptr) return false;
    for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512, SimdLevel::kNeon}) {
      if (level_name(l) == v && usable(l)) {
        *out = l;
        return true;
      }
    }
    return false;  // unknown or unsupported here: ignored
  }
  KernelTable chosen{};
  std::vector<KernelChoice> choices;
  std::string_view mode;
  std::atomic<const KernelTable*> table{nullptr};
  std::atomic<int> forced{-1};
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

std::string_view kernel_name(Kernel kernel) noexcept {
  switch (kernel) {
    case Kernel::kDot: return "dot";
    case Kernel::kRows: return "rows";
    case Kernel::kGather: return "gather";
    case Kernel::kBlock: return "block";
    case Kernel::kAxpy: return "axpy";
    case Kernel::kWiden: return "widen";
    case Kernel::kScan4: return "scan4";
  }
  return "?";
}

SimdLevel kernel_level(Kernel kernel, DType dtype) noexcept {
  const int forced = active().forced.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<SimdLevel>(forced);
  for (const KernelChoice& c : active().choices) {
    if (c.kernel == kernel && (single_dtype(kernel) || c.dtype == dtype)) return c.level;
  }
  return best_level();
}

std::vector<KernelChoice> dispatch_choices() { return active().choices; }
std::string_view dispatch_mode() noexcept { return active().mode; }
int forced_level() noexcept { return active().forced.load(std::memory_order_relaxed); }

bool set_level(SimdLevel level) noexcept {
  if (!usable(level)) return false;
  active().table.store(compiled_table(level), std::memory_order_relaxed);
  active().forced.store(static_cast<int>(level), std::memory_order_relaxed);
  return true;
}

void reset_level() noexcept {
  active().table.store(&active().chosen, std::memory_order_relaxed);
  active().forced.store(-1, std::memory_order_relaxed);
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

void scan_codes4(const std::uint8_t* codes, std::size_t num_blocks, std::size_t num_sub,
                 const std::uint8_t* lut, std::uint16_t* out) noexcept {
  table().scan4(codes, num_blocks, num_sub, lut, out);
}

}  // namespace ra::simd

namespace ra {

void convert_to_f32(const void* src, DType src_type, std::size_t n, float* dst) noexcept {
  simd::table().widen[simd::index_of(src_type)](src, n, dst);
}

}  // namespace ra
