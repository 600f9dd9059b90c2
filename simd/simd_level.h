#pragma once
// Which instruction set each inner-product kernel runs on.
//
// Dispatch decides once, at the first kernel call. By default every kernel (and row dtype)
// runs at the supported level that was fastest in a short timing of that kernel on this CPU
// (a few milliseconds), so a wider level that is slower here, as AVX-512 f16 rows are on some
// AMD cores, is never used; a lower level must win by at least 10% (closer timings are noise
// on a shared machine, and the choice should not flip from run to run). The environment overrides it:
// RA_SIMD_LEVEL=scalar|avx2|avx512|neon forces one level everywhere, RA_SIMD_CALIBRATE=0 takes
// the highest supported level without timing. Tests and benchmarks may force a level.
#include <cstdint>
#include <string_view>
#include <vector>

#include "dtype.h"

namespace ra::simd {

enum class SimdLevel { kScalar, kAvx2, kAvx512, kNeon };

/// The kernel families of inner_product.h (kDot and kScan4 have one row type only: f32 rows,
/// 4-bit codes).
enum class Kernel : std::uint8_t { kDot, kRows, kGather, kBlock, kAxpy, kWiden, kScan4 };
inline constexpr int kNumKernels = 7;
/// Whether `kernel` has one entry rather than one per row dtype.
constexpr bool single_dtype(Kernel kernel) noexcept { return kernel == Kernel::kDot || kernel == Kernel::kScan4; }

std::string_view level_name(SimdLevel level) noexcept;
std::string_view kernel_name(Kernel kernel) noexcept;
/// Levels compiled into this build and supported by this CPU, scalar first.
std::vector<SimdLevel> supported_levels();
/// The highest supported level.
SimdLevel best_level() noexcept;

/// The level `kernel` on `dtype` rows runs at now.
SimdLevel kernel_level(Kernel kernel, DType dtype) noexcept;

/// How dispatch chose one kernel's level: the timing of each supported level (nanoseconds for
/// the calibration workload; empty when no timing ran), and the winner.
struct KernelChoice {
  Kernel kernel;
  DType dtype;
  SimdLevel level;
  std::vector<std::pair<SimdLevel, double>> ns;
};
/// One entry per kernel and dtype, as chosen at start-up (ignores set_level).
std::vector<KernelChoice> dispatch_choices();
/// "calibrated", "highest" (RA_SIMD_CALIBRATE=0) or "forced by RA_SIMD_LEVEL".
std::string_view dispatch_mode() noexcept;

/// Forces every kernel to `level`; false (and no change) when it is not supported here.
/// Not meant to race with running kernels: set it before starting work.
bool set_level(SimdLevel level) noexcept;
/// Back to the start-up choice.
void reset_level() noexcept;
/// The level forced by set_level, or nothing (-1) when the start-up choice is in force.
int forced_level() noexcept;

/// Forces a level for one scope (tests, benchmarks) and restores what was in force before.
class ScopedSimdLevel {
 public:
  explicit ScopedSimdLevel(SimdLevel level) noexcept : previous_(forced_level()) {
    ok_ = set_level(level);
  }
  ~ScopedSimdLevel() {
    if (previous_ < 0) {
      reset_level();
    } else {
      set_level(static_cast<SimdLevel>(previous_));
    }
  }
  ScopedSimdLevel(const ScopedSimdLevel&) = delete;
  ScopedSimdLevel& operator=(const ScopedSimdLevel&) = delete;
  /// Whether the requested level is in force.
  bool ok() const noexcept { return ok_; }

 private:
  int previous_;
  bool ok_ = false;
};

}  // namespace ra::simd
