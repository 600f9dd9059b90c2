#include "simd/detail/calibration.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <new>

namespace ra::simd::detail {
namespace {

// Workload: 8192 rows of dim 128 per dtype (8 MiB in all, L3-sized), the shapes the index and
// the decode path call with. Small enough that the whole calibration takes a few milliseconds.
constexpr std::size_t kRows = 8192, kDim = 128, kQueries = 32, kBlockRows = 1024;
constexpr std::size_t kCodeSubspaces = 64;  // dim 128 in 2-dimensional subspaces
constexpr int kRepeats = 5;
constexpr double kLowerLevelLead = 0.90;  // a lower level must take <= 90% of the time

struct Workload {
  std::vector<float> query, f32, out, y, widened;
  std::vector<Float16> f16;
  std::vector<BFloat16> bf16;
  std::vector<std::uint32_t> ids;
  std::vector<std::uint8_t> codes, lut;  // 4-bit codes of kRows rows over 64 subspaces
  std::vector<std::uint16_t> sums;
  Workload()
      : query(kQueries * kDim), f32(kRows * kDim), out(kQueries * kBlockRows), y(kDim),
        widened(kBlockRows * kDim), f16(kRows * kDim), bf16(kRows * kDim), ids(kRows),
        codes(kRows * kCodeSubspaces / 2), lut(kCodeSubspaces * 16), sums(kRows) {
    std::uint32_t s = 12345;
    auto next = [&] {
      s = s * 1664525u + 1013904223u;
      return static_cast<float>(s >> 8) / static_cast<float>(1u << 24) - 0.5f;
    };
    for (float& x : query) x = next();
    for (float& x : f32) x = next();
    convert_from_f32(f32.data(), f32.size(), DType::kF16, f16.data());
    convert_from_f32(f32.data(), f32.size(), DType::kBF16, bf16.data());
    for (std::size_t i = 0; i < kRows; ++i) ids[i] = static_cast<std::uint32_t>((i * 2654435761u) % kRows);
    for (std::uint8_t& c : codes) c = static_cast<std::uint8_t>((next() + 0.5f) * 255.0f);
    for (std::uint8_t& t : lut) t = static_cast<std::uint8_t>((next() + 0.5f) * 255.0f);
  }
  const void* rows(DType t) const noexcept {
    return t == DType::kF32 ? static_cast<const void*>(f32.data())
                            : t == DType::kF16 ? static_cast<const void*>(f16.data()) : bf16.data();
  }
};

// One call of `kernel` on `dtype` rows through table t.
void run(const KernelTable& t, Kernel kernel, DType dtype, Workload& w) noexcept {
  const int d = static_cast<int>(dtype);
  const void* rows = w.rows(dtype);
  switch (kernel) {
    case Kernel::kDot: {
      float sink = 0;
      for (std::size_t i = 0; i < kRows; ++i) sink += t.dot(w.query.data(), w.f32.data() + i * kDim, kDim);
      w.out[0] = sink;
      break;
    }
    case Kernel::kRows: t.rows[d](w.query.data(), rows, kDim, kRows, kDim, w.out.data()); break;
    case Kernel::kGather:
      t.gather[d](w.query.data(), rows, kDim, w.ids.data(), kRows, kDim, w.out.data());
      break;
    case Kernel::kBlock:
      t.block[d](w.query.data(), kDim, kQueries, rows, kDim, kBlockRows, kDim, w.out.data(), kBlockRows);
      break;
    case Kernel::kWiden:
      for (std::size_t i = 0; i < kRows; i += kBlockRows) t.widen[d](static_cast<const unsigned char*>(rows) + i * kDim * dtype_size(dtype), kBlockRows * kDim, w.widened.data());
      break;
    case Kernel::kScan4:
      t.scan4(w.codes.data(), kRows / 32, kCodeSubspaces, w.lut.data(), w.sums.data());
      break;
    case Kernel::kAxpy: {
      const std::size_t row_bytes = kDim * dtype_size(dtype);
      for (std::size_t i = 0; i < kRows; ++i) {
        t.axpy[d](1e-3f, static_cast<const unsigned char*>(rows) + i * row_bytes, w.y.data(), kDim);
      }
      break;
    }
  }
}

// The fastest of kRepeats timed calls per level, the levels interleaved so that a change of
// clock or load during the calibration affects them alike.
std::vector<double> fastest_ns(const std::vector<const KernelTable*>& tables, Kernel kernel, DType dtype,
                               Workload& w) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> best(tables.size(), std::numeric_limits<double>::infinity());
  for (const KernelTable* t : tables) run(*t, kernel, dtype, w);  // warm caches and clocks
  for (int r = 0; r < kRepeats; ++r) {
    for (std::size_t i = 0; i < tables.size(); ++i) {
      const auto t0 = Clock::now();
      run(*tables[i], kernel, dtype, w);
      best[i] = std::min(best[i], std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    }
  }
  return best;
}

// The entry of `kernel` on `dtype` in `dst`, copied from `src`.
void take(KernelTable& dst, const KernelTable& src, Kernel kernel, DType dtype) noexcept {
  const int d = static_cast<int>(dtype);
  switch (kernel) {
    case Kernel::kDot: dst.dot = src.dot; break;
    case Kernel::kRows: dst.rows[d] = src.rows[d]; break;
    case Kernel::kGather: dst.gather[d] = src.gather[d]; break;
    case Kernel::kBlock: dst.block[d] = src.block[d]; break;
    case Kernel::kAxpy: dst.axpy[d] = src.axpy[d]; break;
    case Kernel::kWiden: dst.widen[d] = src.widen[d]; break;
    case Kernel::kScan4: dst.scan4 = src.scan4; break;
  }
}

template <class F>
void for_each_entry(F&& f) {
  for (int k = 0; k < kNumKernels; ++k) {
    const auto kernel = static_cast<Kernel>(k);
    for (int d = 0; d < (single_dtype(kernel) ? 1 : kNumDTypes); ++d) f(kernel, static_cast<DType>(d));
  }
}

}  // namespace

KernelTable uniform(SimdLevel level, TableOf table_of, std::vector<KernelChoice>* choices) noexcept {
  choices->clear();
  for_each_entry([&](Kernel k, DType d) { choices->push_back({k, d, level, {}}); });
  return *table_of(level);
}

KernelTable calibrate(const std::vector<SimdLevel>& levels, TableOf table_of,
                      std::vector<KernelChoice>* choices) noexcept {
  KernelTable table = uniform(levels.back(), table_of, choices);
  try {
    Workload w;
    std::vector<const KernelTable*> tables;
    for (SimdLevel l : levels) tables.push_back(table_of(l));
    std::size_t entry = 0;
    for_each_entry([&](Kernel k, DType d) {
      KernelChoice& c = (*choices)[entry++];
      const std::vector<double> ns = fastest_ns(tables, k, d, w);
      // The highest level keeps the entry unless a lower one is clearly faster.
      std::size_t pick = levels.size() - 1;
      for (std::size_t i = levels.size() - 1; i-- > 0;) {
        if (ns[i] < ns[pick] * kLowerLevelLead) pick = i;
      }
      c.level = levels[pick];
      for (std::size_t i = 0; i < levels.size(); ++i) c.ns.push_back({levels[i], ns[i]});
      take(table, *table_of(c.level), k, d);
    });
  } catch (const std::bad_alloc&) {
    return uniform(levels.back(), table_of, choices);
  }
  return table;
}

}  // namespace ra::simd::detail
