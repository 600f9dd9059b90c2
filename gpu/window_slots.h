#pragma once
// Where a device window keeps each token of the static set (CUDA-free, C++17: the CUDA code and
// the CPU tests both include it). num_sink + 2 * window slots: sink token p < num_sink at slot
// p; a later token p at slot num_sink + (p - num_sink) % window and again `window` slots further,
// so that any run of at most `window` consecutive tokens after the sinks is one contiguous run
// of slots, and the attention kernel reads the whole static set as two ranges. Appending token
// p >= num_sink + window overwrites the slots of token p - window, the one leaving the window.
#include <cstdint>

#include "../attention/token_range.h"

namespace ra::gpu {

struct WindowSlots {
  std::uint32_t num_sink = 0, window = 0;

  std::uint32_t slots() const noexcept { return num_sink + 2 * window; }
  /// First slot of token p (p >= num_sink needs window > 0); its copy is at + window.
  std::uint32_t slot_of(std::uint32_t p) const noexcept {
    return p < num_sink ? p : num_sink + (p - num_sink) % window;
  }
  /// The token that appending p pushes out of the window; false when none does.
  bool leaves_on_append(std::uint32_t p, std::uint32_t* leaving) const noexcept {
    if (window == 0 || p < num_sink + window) return false;
    *leaving = p - window;
    return true;
  }
  /// The slots of tokens r: r inside the sinks, or after them and at most `window` long.
  /// False (and *out untouched) for a range that is neither.
  bool slots_of(attention::TokenRange r, attention::TokenRange* out) const noexcept {
    if (r.size() == 0) {
      *out = {};
      return true;
    }
    if (r.end <= num_sink) {
      *out = r;
      return true;
    }
    if (r.begin < num_sink || r.size() > window) return false;
    const std::uint32_t s = slot_of(r.begin);
    *out = {s, s + r.size()};
    return true;
  }
};

}  // namespace ra::gpu
