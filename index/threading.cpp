#include "index/threading.h"

#include <omp.h>

namespace ra {

int resolve_threads(std::uint32_t requested) noexcept {
  return requested == 0 ? omp_get_max_threads() : static_cast<int>(requested);
}

}  // namespace ra
