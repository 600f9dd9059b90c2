// Every SIMD level against a double-precision scalar oracle: all dims of interest, unaligned
// pointers, strides, f32/f16/bf16 rows, and special values.
#include "simd/inner_product.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "simd/simd_level.h"

namespace ra::simd {
namespace {

constexpr std::size_t kDims[] = {1, 3, 8, 15, 16, 17, 32, 47, 127, 128, 129, 1025};

// Rows of one dtype stored one element past an aligned start, so every load is unaligned.
struct Rows {
  DType dtype;
  std::size_t n, dim, stride;
  std::vector<std::uint16_t> half;  // f16 / bf16 bits, with one leading pad element
  std::vector<float> f32;           // f32 values, with one leading pad element
  std::vector<float> exact;         // the values as f32, for the oracle

  Rows(DType t, std::size_t rows, std::size_t d, std::size_t s, std::mt19937& rng, bool integers)
      : dtype(t), n(rows), dim(d), stride(s), exact(rows * s, 0.0f) {
    std::uniform_int_distribution<int> ints(-8, 8);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    half.assign(rows * s + 1, 0);
    f32.assign(rows * s + 1, 0.0f);
    for (std::size_t i = 0; i < rows * s; ++i) {
      const float v = integers ? static_cast<float>(ints(rng)) : normal(rng);
      set(i, v);
    }
  }
  void set(std::size_t i, float v) {
    if (dtype == DType::kF32) {
      f32[i + 1] = v;
      exact[i] = v;
    } else if (dtype == DType::kF16) {
      half[i + 1] = to_f16(v).bits;
      exact[i] = to_float(Float16{half[i + 1]});
    } else {
      half[i + 1] = to_bf16(v).bits;
      exact[i] = to_float(BFloat16{half[i + 1]});
    }
  }
  const void* data() const {
    return dtype == DType::kF32 ? static_cast<const void*>(f32.data() + 1) : half.data() + 1;
  }
  const float* row(std::size_t i) const { return exact.data() + i * stride; }
};

std::vector<float> random_floats(std::size_t n, std::mt19937& rng, bool integers) {
  std::uniform_int_distribution<int> ints(-8, 8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n + 1);  // v.data() + 1 is unaligned
  for (float& x : v) x = integers ? static_cast<float>(ints(rng)) : normal(rng);
  return v;
}

struct Oracle {
  double value, bound;
};
Oracle oracle(const float* q, const float* x, std::size_t dim) {
  double sum = 0.0, abs = 0.0;
  for (std::size_t i = 0; i < dim; ++i) {
    sum += static_cast<double>(q[i]) * x[i];
    abs += std::fabs(static_cast<double>(q[i]) * x[i]);
  }
  // Any summation order of dim products in f32 stays within (dim + 2) u sum|q_i x_i|.
  return {sum, (static_cast<double>(dim) + 2.0) * 0x1.0p-24 * abs + 1e-30};
}

void expect_close(float got, const Oracle& want, bool exact, const std::string& what) {
  if (exact) {
    EXPECT_EQ(static_cast<double>(got), want.value) << what;
  } else {
    EXPECT_NEAR(got, want.value, want.bound) << what;
  }
}

class KernelTest : public ::testing::TestWithParam<std::tuple<SimdLevel, DType, bool>> {
 protected:
  void SetUp() override {
    scoped_ = std::make_unique<ScopedSimdLevel>(std::get<0>(GetParam()));
    ASSERT_TRUE(scoped_->ok());
  }
  DType dtype() const { return std::get<1>(GetParam()); }
  bool integers() const { return std::get<2>(GetParam()); }
  std::unique_ptr<ScopedSimdLevel> scoped_;
};

TEST_P(KernelTest, DotRowsGatherBlockAxpyMatchOracle) {
  std::mt19937 rng(42);
  for (std::size_t dim : kDims) {
    const std::size_t stride = dim + 3;
    const std::size_t n = 37, nq = 7;  // 37 rows: full 8- and 16-row tiles plus tails
    Rows rows(dtype(), n, dim, stride, rng, integers());
    const std::vector<float> qs = random_floats(nq * (dim + 1), rng, integers());
    const float* q = qs.data() + 1;
    const std::string at = "dim " + std::to_string(dim);

    if (dtype() == DType::kF32) {
      for (std::size_t j = 0; j < n; ++j) {
        expect_close(dot(q, rows.f32.data() + 1 + j * stride, dim), oracle(q, rows.row(j), dim),
                     integers(), "dot " + at);
      }
    }
    std::vector<float> out(n);
    dot_rows(q, rows.data(), dtype(), stride, n, dim, out.data());
    for (std::size_t j = 0; j < n; ++j) {
      expect_close(out[j], oracle(q, rows.row(j), dim), integers(), "rows " + at);
    }

    std::vector<std::uint32_t> ids;  // repeats, random order, 41 of them
    for (std::size_t i = 0; i < 41; ++i) ids.push_back(static_cast<std::uint32_t>((i * 17 + 5) % n));
    std::vector<float> gathered(ids.size());
    dot_gather(q, rows.data(), dtype(), stride, ids.data(), ids.size(), dim, gathered.data());
    for (std::size_t j = 0; j < ids.size(); ++j) {
      expect_close(gathered[j], oracle(q, rows.row(ids[j]), dim), integers(), "gather " + at);
    }

    const std::size_t q_stride = dim + 1, out_stride = n + 2;
    for (std::size_t queries : {std::size_t{1}, std::size_t{3}, nq}) {  // fewer than a tile, and tiles
      std::vector<float> block(queries * out_stride, -1.0f);
      dot_block(q, q_stride, queries, rows.data(), dtype(), stride, n, dim, block.data(), out_stride);
      for (std::size_t i = 0; i < queries; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          expect_close(block[i * out_stride + j], oracle(q + i * q_stride, rows.row(j), dim),
                       integers(), "block " + at + ", " + std::to_string(queries) + " queries");
        }
        EXPECT_EQ(block[i * out_stride + n], -1.0f) << "block wrote past its row, " << at;
      }
    }

    std::vector<float> y(qs.begin() + 1, qs.begin() + 1 + static_cast<long>(dim) + 1);
    axpy(0.5f, rows.data(), dtype(), y.data(), dim);
    for (std::size_t c = 0; c < dim; ++c) {
      const double want = static_cast<double>(q[c]) + 0.5 * rows.row(0)[c];
      EXPECT_NEAR(y[c], want, 1e-6 * (1.0 + std::fabs(want))) << "axpy " << at;
    }
    EXPECT_EQ(y[dim], q[dim]) << "axpy wrote past dim, " << at;
  }
}

std::vector<std::tuple<SimdLevel, DType, bool>> all_cases() {
  std::vector<std::tuple<SimdLevel, DType, bool>> cases;
  for (SimdLevel l : supported_levels()) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (bool integers : {true, false}) cases.emplace_back(l, t, integers);
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    AllLevels, KernelTest, ::testing::ValuesIn(all_cases()), [](const auto& param_info) {
      return std::string(level_name(std::get<0>(param_info.param))) + "_" +
             std::string(dtype_name(std::get<1>(param_info.param))) +
             (std::get<2>(param_info.param) ? "_integers_exact" : "_normal");
    });

// Scans longer than 8 MiB take another body at some levels (AVX-512 f32: 256-bit loads).
TEST_P(KernelTest, LongScansMatchOracle) {
  std::mt19937 rng(5);
  const std::size_t n = 17000, dim = 129, stride = 131;  // 8.5 MiB of f32 rows, a partial batch per row
  Rows rows(dtype(), n, dim, stride, rng, integers());
  const std::vector<float> qs = random_floats(dim, rng, integers());
  const float* q = qs.data() + 1;
  std::vector<float> out(n + 1, -1.0f);
  dot_rows(q, rows.data(), dtype(), stride, n, dim, out.data());
  for (std::size_t j = 0; j < n; ++j) expect_close(out[j], oracle(q, rows.row(j), dim), integers(), "long rows");
  EXPECT_EQ(out[n], -1.0f) << "rows wrote past its end";
  std::vector<float> block(n);
  dot_block(q, dim, 1, rows.data(), dtype(), stride, n, dim, block.data(), n);
  EXPECT_EQ(block, std::vector<float>(out.begin(), out.end() - 1)) << "one query's block is its rows scan";
}

TEST(Kernels, SpecialValuesPropagateAtEveryLevel) {
  const std::size_t dim = 19;
  const float inf = std::numeric_limits<float>::infinity();
  for (SimdLevel level : supported_levels()) {
    ScopedSimdLevel scoped(level);
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
      const std::string at = std::string(level_name(level)) + " " + std::string(dtype_name(dtype));
      std::mt19937 rng(7);
      Rows rows(dtype, 3, dim, dim, rng, false);
      const std::vector<float> ones(dim, 1.0f);
      for (std::size_t c = 0; c < dim; ++c) {
        rows.set(c, dtype == DType::kF16 ? to_float(Float16{0x0001}) : 1e-40f);  // subnormals
      }
      rows.set(dim + 17, inf);
      rows.set(2 * dim + 3, std::numeric_limits<float>::quiet_NaN());
      std::vector<float> out(3);
      dot_rows(ones.data(), rows.data(), dtype, dim, 3, dim, out.data());
      double subnormal_sum = 0.0;
      for (std::size_t c = 0; c < dim; ++c) subnormal_sum += rows.row(0)[c];
      EXPECT_GT(out[0], 0.0f) << "subnormal inputs must not be flushed to zero, " << at;
      EXPECT_NEAR(out[0], subnormal_sum, subnormal_sum * 1e-5) << at;
      EXPECT_EQ(out[1], inf) << at;
      EXPECT_TRUE(std::isnan(out[2])) << at;

      // Widening is exact: every element, subnormals, infinity and NaN included, and lengths
      // that end inside a batch.
      for (std::size_t len : {rows.exact.size(), std::size_t{1}, dim + 2}) {
        std::vector<float> wide(len + 1, -7.0f);
        convert_to_f32(rows.data(), dtype, len, wide.data());
        for (std::size_t i = 0; i < len; ++i) {
          if (std::isnan(rows.exact[i])) {
            EXPECT_TRUE(std::isnan(wide[i])) << "widen " << at << " at " << i;
          } else {
            EXPECT_EQ(wide[i], rows.exact[i]) << "widen " << at << " at " << i;
          }
        }
        EXPECT_EQ(wide[len], -7.0f) << "widen wrote past its end, " << at;
      }
    }
  }
}

// The fast scan sums exactly what its tables say for every row's codes, at every level: every
// code and table value (0..255) occurs, 256 subspaces reach the 16-bit sum's largest case, and
// the block layout (low nibble row j, high nibble row j + 16) is read as documented.
TEST(Kernels, FastScanSumsTheTableEntriesOfEveryRowsCodes) {
  std::mt19937 rng(11);
  for (std::size_t num_sub : {std::size_t{4}, std::size_t{8}, std::size_t{64}, std::size_t{256}}) {
    const std::size_t blocks = 3, rows = blocks * kCodeBlockRows;
    std::vector<std::uint8_t> code(rows * num_sub), lut(num_sub * 16);
    for (auto& c : code) c = static_cast<std::uint8_t>(rng() % 16);
    for (auto& t : lut) t = static_cast<std::uint8_t>(rng() % 256);
    if (num_sub == 256) {  // the largest sum: every row's code takes a 255 entry
      std::fill(lut.begin(), lut.end(), std::uint8_t{255});
    }
    std::vector<std::uint8_t> packed(blocks * num_sub * 16, 0);
    std::vector<std::uint32_t> want(rows, 0);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t b = r / 32, j = r % 32;
      for (std::size_t m = 0; m < num_sub; ++m) {
        const std::uint8_t c = code[r * num_sub + m];
        packed[b * num_sub * 16 + m * 16 + j % 16] |= static_cast<std::uint8_t>(j < 16 ? c : c << 4);
        want[r] += lut[m * 16 + c];
      }
    }
    for (SimdLevel level : supported_levels()) {
      ScopedSimdLevel scoped(level);
      std::vector<std::uint16_t> out(rows + 1, 7);
      scan_codes4(packed.data(), blocks, num_sub, lut.data(), out.data());
      for (std::size_t r = 0; r < rows; ++r) {
        ASSERT_EQ(out[r], want[r]) << level_name(level) << " num_sub " << num_sub << " row " << r;
      }
      EXPECT_EQ(out[rows], 7) << "scan wrote past its end, " << level_name(level);
    }
  }
}

TEST(SimdLevel, BestIsSupportedAndScopedLevelRestores) {
  if (std::getenv("RA_SIMD_LEVEL") != nullptr) GTEST_SKIP() << "RA_SIMD_LEVEL forces a level";
  EXPECT_EQ(forced_level(), -1);
  const SimdLevel rows = kernel_level(Kernel::kRows, DType::kF16);
  {
    ScopedSimdLevel scalar(SimdLevel::kScalar);
    EXPECT_TRUE(scalar.ok());
    EXPECT_EQ(forced_level(), static_cast<int>(SimdLevel::kScalar));
    EXPECT_EQ(kernel_level(Kernel::kRows, DType::kF16), SimdLevel::kScalar);
    {
      ScopedSimdLevel best(best_level());
      EXPECT_EQ(kernel_level(Kernel::kGather, DType::kF32), best_level());
    }
    EXPECT_EQ(kernel_level(Kernel::kGather, DType::kF32), SimdLevel::kScalar);  // nested restore
  }
  EXPECT_EQ(forced_level(), -1);
  EXPECT_EQ(kernel_level(Kernel::kRows, DType::kF16), rows);
  const auto levels = supported_levels();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), SimdLevel::kScalar);
  EXPECT_EQ(levels.back(), best_level());
}

TEST(SimdLevel, UnsupportedLevelIsRefused) {
  const auto levels = supported_levels();
  const int before = forced_level();
  for (SimdLevel l : {SimdLevel::kAvx2, SimdLevel::kAvx512, SimdLevel::kNeon}) {
    if (std::find(levels.begin(), levels.end(), l) != levels.end()) continue;
    ScopedSimdLevel s(l);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(forced_level(), before);
  }
}

// The start-up choice mixes levels per kernel: every chosen level is supported, was timed
// (when calibrating), and computes exactly what every forced level computes on integer data.
TEST(SimdLevel, CalibratedChoiceIsSupportedAndAgreesWithEveryLevel) {
  const auto levels = supported_levels();
  const auto choices = dispatch_choices();
  ASSERT_EQ(choices.size(), 2u + (kNumKernels - 2u) * kNumDTypes);  // dot: f32 only; scan4: codes
  for (const KernelChoice& c : choices) {
    EXPECT_NE(std::find(levels.begin(), levels.end(), c.level), levels.end()) << kernel_name(c.kernel);
    if (dispatch_mode() == "calibrated" && levels.size() > 1) {
      EXPECT_FALSE(c.ns.empty()) << kernel_name(c.kernel);
      for (const auto& [level, ns] : c.ns) EXPECT_GT(ns, 0.0) << level_name(level);
    }
  }
  std::mt19937 rng(7);
  const std::size_t n = 40, dim = 129, nq = 5;
  const auto q = random_floats(nq * dim, rng, true);
  std::vector<std::uint32_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::uint32_t>((i * 17) % n);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    const Rows rows(t, n, dim, dim, rng, true);
    auto compute = [&] {
      std::vector<float> out(n * (nq + 2) + dim + 1, 0.0f);
      dot_rows(q.data() + 1, rows.data(), t, dim, n, dim, out.data());
      dot_gather(q.data() + 1, rows.data(), t, dim, ids.data(), n, dim, out.data() + n);
      dot_block(q.data() + 1, dim, nq, rows.data(), t, dim, n, dim, out.data() + 2 * n, n);
      for (std::size_t i = 0; i < n; ++i) axpy(1.0f, static_cast<const unsigned char*>(rows.data()) + i * dim * dtype_size(t), t, out.data() + n * (nq + 2), dim);
      out.back() = dot(q.data() + 1, rows.exact.data(), dim);
      std::vector<float> wide(n * dim);
      convert_to_f32(rows.data(), t, wide.size(), wide.data());
      out.insert(out.end(), wide.begin(), wide.end());
      return out;
    };
    const auto chosen = compute();
    for (SimdLevel l : levels) {
      ScopedSimdLevel forced(l);
      EXPECT_EQ(compute(), chosen) << level_name(l) << " " << dtype_name(t);
    }
  }
}

}  // namespace
}  // namespace ra::simd
