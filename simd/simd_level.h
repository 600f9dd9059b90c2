#pragma once
// Which instruction set the inner-product kernels run on. Chosen once at start-up (the best the
// CPU and OS support); tests and benchmarks may force a lower level.
#include <string_view>
#include <vector>

namespace ra::simd {

enum class SimdLevel { kScalar, kAvx2, kAvx512, kNeon };

std::string_view level_name(SimdLevel level) noexcept;
/// Levels compiled into this build and supported by this CPU, scalar first.
std::vector<SimdLevel> supported_levels();
/// The best supported level, detected once.
SimdLevel best_level() noexcept;
/// The level the kernels dispatch to now.
SimdLevel active_level() noexcept;
/// Switches the kernels to `level`; false (and no change) when it is not supported here.
/// Not meant to race with running kernels: set it before starting work.
bool set_level(SimdLevel level) noexcept;

/// Forces a level for one scope (tests, benchmarks) and restores the previous one.
class ScopedSimdLevel {
 public:
  explicit ScopedSimdLevel(SimdLevel level) noexcept : previous_(active_level()) {
    ok_ = set_level(level);
  }
  ~ScopedSimdLevel() { set_level(previous_); }
  ScopedSimdLevel(const ScopedSimdLevel&) = delete;
  ScopedSimdLevel& operator=(const ScopedSimdLevel&) = delete;
  /// Whether the requested level is in force.
  bool ok() const noexcept { return ok_; }

 private:
  SimdLevel previous_;
  bool ok_ = false;
};

}  // namespace ra::simd
