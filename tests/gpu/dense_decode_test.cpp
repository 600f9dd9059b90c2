// The GPU dense decode kernel against the CPU partial attention (attend_ranges), on every
// dtype, head size and GQA ratio, with empty, one-token and unaligned ranges. Skips without a
// CUDA device.
#include "gpu/dense_decode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attention/dense_attention.h"
#include "gpu/device_info.h"

namespace ra::gpu {
namespace {

struct Case {
  DType dtype;
  std::uint32_t head_dim, kv_heads, group, tokens;
  attention::TokenRange r0, r1;
};

std::vector<std::uint16_t> narrow(const std::vector<float>& x, DType t) {
  std::vector<std::uint16_t> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (t == DType::kF16) out[i] = to_f16(x[i]).bits;
    if (t == DType::kBF16) out[i] = to_bf16(x[i]).bits;
  }
  return out;
}

void check(const Case& c) {
  const std::uint32_t q_heads = c.kv_heads * c.group, d = c.head_dim;
  std::mt19937 rng(c.tokens * 31 + d);
  std::normal_distribution<float> g(0.0f, 1.0f);
  // Layout (kv head, token, channel) with a padded token stride, as an engine's cache may have.
  const std::int64_t token_stride = d + 8, head_stride = token_stride * c.tokens;
  std::vector<float> k(static_cast<std::size_t>(head_stride) * c.kv_heads), v(k.size()), q(q_heads * d);
  for (float& x : k) x = g(rng);
  for (float& x : v) x = g(rng);
  for (float& x : q) x = 2.0f * g(rng);
  // The CPU sees the same rounded values the GPU reads.
  const std::size_t elem = dtype_size(c.dtype);
  std::vector<std::uint16_t> k16, v16;
  const void* k_host = k.data();
  const void* v_host = v.data();
  if (c.dtype != DType::kF32) {
    k16 = narrow(k, c.dtype);
    v16 = narrow(v, c.dtype);
    k_host = k16.data();
    v_host = v16.data();
  }
  auto dk = DeviceBuffer::allocate(k.size() * elem).value();
  auto dv = DeviceBuffer::allocate(v.size() * elem).value();
  auto dq = DeviceBuffer::allocate(q.size() * 4).value();
  auto dout = DeviceBuffer::allocate(q.size() * 4).value();
  auto dlse = DeviceBuffer::allocate(q_heads * 4).value();
  ASSERT_TRUE(dk.upload(k_host, k.size() * elem).ok());
  ASSERT_TRUE(dv.upload(v_host, v.size() * elem).ok());
  ASSERT_TRUE(dq.upload(q.data(), q.size() * 4).ok());
  auto decoder = DenseDecoder::create(q_heads, d);
  ASSERT_TRUE(decoder.ok()) << decoder.status().to_string();
  DenseDecodeArgs args;
  args.kv = {dk.data(), dv.data(), c.dtype, c.kv_heads, d, c.tokens, token_stride, head_stride};
  args.q = static_cast<const float*>(dq.data());
  args.num_q_heads = q_heads;
  args.ranges[0] = c.r0;
  args.ranges[1] = c.r1;
  args.scale = 1.0f / std::sqrt(static_cast<float>(d));
  args.o = static_cast<float*>(dout.data());
  args.lse = static_cast<float*>(dlse.data());
  ASSERT_TRUE(decoder->run(args).ok());
  ASSERT_TRUE(synchronize().ok());
  std::vector<float> o(q.size()), lse(q_heads);
  ASSERT_TRUE(dout.download(o.data(), o.size() * 4).ok());
  ASSERT_TRUE(dlse.download(lse.data(), lse.size() * 4).ok());

  const double tol = 2e-4;
  attention::AttendScratch scratch;
  std::vector<attention::TokenRange> ranges;
  for (const auto& r : {c.r0, c.r1}) {
    if (r.size() > 0) ranges.push_back(r);
  }
  for (std::uint32_t h = 0; h < q_heads; ++h) {
    const std::uint32_t kvh = h / c.group;
    const auto* kb = static_cast<const std::byte*>(k_host) + kvh * head_stride * elem;
    const auto* vb = static_cast<const std::byte*>(v_host) + kvh * head_stride * elem;
    const MatrixView keys{kb, c.dtype, c.tokens, d, static_cast<std::size_t>(token_stride)};
    const MatrixView values{vb, c.dtype, c.tokens, d, static_cast<std::size_t>(token_stride)};
    std::vector<float> ref(d);
    float ref_lse = 0;
    attend_ranges(q.data() + h * d, keys, values, ranges, args.scale, scratch, ref.data(), &ref_lse);
    if (ranges.empty()) {
      EXPECT_TRUE(std::isinf(lse[h]) && lse[h] < 0) << "head " << h;
    } else {
      EXPECT_NEAR(lse[h], ref_lse, tol * (1 + std::fabs(ref_lse))) << "head " << h;
    }
    for (std::uint32_t c2 = 0; c2 < d; ++c2) {
      EXPECT_NEAR(o[h * d + c2], ref[c2], tol * 10) << "head " << h << " channel " << c2;
    }
  }
}

class DenseDecodeGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device on this machine";
  }
};

TEST_F(DenseDecodeGpu, EqualsTheCpuPartialAttention) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (std::uint32_t d : {64u, 128u, 256u}) {
      for (std::uint32_t group : {1u, 4u, 8u}) {
        SCOPED_TRACE(std::string(dtype_name(t)) + " d" + std::to_string(d) + " group " + std::to_string(group));
        check({t, d, 2, group, 1000, {0, 4}, {871, 1000}});   // sinks + a window, unaligned
        check({t, d, 2, group, 7, {3, 4}, {0, 0}});           // one token
        check({t, d, 1, group, 50, {0, 0}, {0, 0}});          // nothing: o = 0, lse = -inf
      }
    }
  }
}

TEST_F(DenseDecodeGpu, FullContextIsOneRange) {
  check({DType::kF16, 128, 8, 4, 40000, {0, 40000}, {0, 0}});  // many splits
}

TEST_F(DenseDecodeGpu, BadArgumentsAreErrors) {
  auto decoder = DenseDecoder::create(8, 128).value();
  DenseDecodeArgs args;
  EXPECT_EQ(decoder.run(args).code(), StatusCode::kInvalidArgument);  // null pointers
  EXPECT_EQ(DenseDecoder::create(8, 96).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra::gpu
