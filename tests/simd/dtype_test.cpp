#include "simd/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ra {
namespace {

TEST(DType, F16RoundTripsEveryNonNanValue) {
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const Float16 h{static_cast<std::uint16_t>(bits)};
    const float f = to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(to_float(to_f16(f)))) << bits;
      continue;
    }
    EXPECT_EQ(to_f16(f).bits, h.bits) << "bits " << bits;
  }
}

TEST(DType, F16SpecialValues) {
  EXPECT_EQ(to_float(Float16{0x0001}), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(to_float(Float16{0x03ff}), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(to_float(Float16{0x7bff}), 65504.0f);
  EXPECT_EQ(to_float(Float16{0x7c00}), std::numeric_limits<float>::infinity());
  EXPECT_EQ(to_float(Float16{0xfc00}), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(to_float(Float16{0x7e00})));
  EXPECT_EQ(std::signbit(to_float(Float16{0x8000})), true);
  // Narrowing: ties to even, overflow to infinity, underflow to signed zero.
  EXPECT_EQ(to_f16(65520.0f).bits, 0x7c00);
  EXPECT_EQ(to_f16(65519.0f).bits, 0x7bff);
  EXPECT_EQ(to_f16(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);  // tie -> even (down)
  EXPECT_EQ(to_f16(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);  // tie -> even (up)
  EXPECT_EQ(to_f16(std::ldexp(1.0f, -25)).bits, 0x0000);  // half the smallest subnormal: tie to 0
  EXPECT_EQ(to_f16(std::ldexp(1.5f, -25)).bits, 0x0001);
  EXPECT_EQ(to_f16(-1e-10f).bits, 0x8000);
  EXPECT_EQ(to_f16(std::numeric_limits<float>::infinity()).bits, 0x7c00);
  EXPECT_TRUE(std::isnan(to_float(to_f16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, BF16RoundsToNearestEvenAndKeepsSpecials) {
  EXPECT_EQ(to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(to_float(BFloat16{0x3f80}), 1.0f);
  const float tie_down = std::bit_cast<float>(0x3f808000u);  // halfway, even below
  const float tie_up = std::bit_cast<float>(0x3f818000u);    // halfway, even above
  EXPECT_EQ(to_bf16(tie_down).bits, 0x3f80);
  EXPECT_EQ(to_bf16(tie_up).bits, 0x3f82);
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::infinity()).bits, 0x7f80);
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::max()).bits, 0x7f80);  // rounds up to inf
  EXPECT_TRUE(std::isnan(to_float(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  const float sub = std::bit_cast<float>(0x00010000u);  // an f32 subnormal exactly in bf16
  EXPECT_EQ(to_float(to_bf16(sub)), sub);
}

TEST(DType, NamesParse) {
  DType t;
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16}) {
    ASSERT_TRUE(parse_dtype(dtype_name(d), &t));
    EXPECT_EQ(t, d);
  }
  EXPECT_FALSE(parse_dtype("f64", &t));
}

}  // namespace
}  // namespace ra
