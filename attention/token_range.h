#pragma once
// A half-open range of token positions (C++17: the CUDA code includes it too).
#include <cstdint>

namespace ra::attention {

struct TokenRange {
  std::uint32_t begin = 0, end = 0;
  std::uint32_t size() const noexcept { return end > begin ? end - begin : 0; }
};

}  // namespace ra::attention
