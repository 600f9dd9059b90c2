#pragma once
// Private to simd/: the start-up timing that picks each kernel's level (see simd_level.h).
#include <vector>

#include "simd/detail/kernel_table.h"
#include "simd/simd_level.h"

namespace ra::simd::detail {

using TableOf = const KernelTable* (*)(SimdLevel) noexcept;

/// A table whose every entry comes from the level (of `levels`, lowest first) that ran that
/// entry's workload fastest, a lower level needing a 10% lead. Fills one choice per entry.
/// Falls back to the highest level for an entry whose workload cannot be allocated.
KernelTable calibrate(const std::vector<SimdLevel>& levels, TableOf table_of,
                      std::vector<KernelChoice>* choices) noexcept;

/// The table of one level, with the choices it implies (no timings).
KernelTable uniform(SimdLevel level, TableOf table_of, std::vector<KernelChoice>* choices) noexcept;

}  // namespace ra::simd::detail
