// The device window and the CUDA backend of the decode step, against the CPU: the window's
// slots attended by the dense kernel equal attend_ranges over the same tokens of the host
// copy after every append; tokens leaving the window land in the host cache, and nothing else
// does; a RetrievalDecoder with the CUDA backend decodes like one with the CPU backend. Skips
// without a CUDA device.
#include "gpu/device_window.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attention/dense_attention.h"
#include "attention/retrieval_decoder.h"
#include "gpu/cuda_dense_backend.h"
#include "gpu/device_info.h"

namespace ra::gpu {
namespace {

using attention::TokenRange;

class DeviceWindowGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device on this machine";
  }
};

std::vector<float> gaussian(std::size_t n, std::uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, sd);
  std::vector<float> x(n);
  for (float& v : x) v = g(rng);
  return x;
}

// The dense kernel over the window's slots for `wanted` (token positions) against the CPU over
// the same tokens of the host rows (token-major, [token][head][dim] f32).
void expect_attends_like_host(const DeviceWindow& w, DenseDecoder& decoder, const std::vector<float>& k,
                              const std::vector<float>& v, const TokenRange wanted[2], std::uint32_t group) {
  const WindowShape& s = w.shape();
  const std::uint32_t H = s.num_kv_heads * group, d = s.head_dim;
  const std::vector<float> q = gaussian(static_cast<std::size_t>(H) * d, 5);
  auto dq = DeviceBuffer::allocate(q.size() * 4).value();
  auto dout = DeviceBuffer::allocate((q.size() + H) * 4).value();
  ASSERT_TRUE(dq.upload(q.data(), q.size() * 4).ok());
  DenseDecodeArgs args;
  args.kv = w.kv();
  for (int r = 0; r < 2; ++r) {
    ASSERT_TRUE(w.holds(wanted[r]));
    ASSERT_TRUE(w.slots().slots_of(wanted[r], &args.ranges[r]));
  }
  args.q = static_cast<const float*>(dq.data());
  args.num_q_heads = H;
  args.scale = 0.125f;
  args.o = static_cast<float*>(dout.data());
  args.lse = args.o + q.size();
  ASSERT_TRUE(decoder.run(args).ok());
  ASSERT_TRUE(synchronize().ok());
  std::vector<float> out(q.size() + H);
  ASSERT_TRUE(dout.download(out.data(), out.size() * 4).ok());
  attention::AttendScratch scratch;
  const std::size_t tokens = k.size() / (static_cast<std::size_t>(s.num_kv_heads) * d);
  for (std::uint32_t h = 0; h < H; ++h) {
    const std::uint32_t kvh = h / group;
    const MatrixView keys{k.data() + kvh * d, DType::kF32, tokens, d, static_cast<std::size_t>(s.num_kv_heads) * d};
    const MatrixView values{v.data() + kvh * d, DType::kF32, tokens, d, keys.stride};
    std::vector<float> ref(d);
    float ref_lse = 0;
    attention::attend_ranges(q.data() + h * d, keys, values, {wanted, 2}, args.scale, scratch, ref.data(), &ref_lse);
    EXPECT_NEAR(out[q.size() + h], ref_lse, 1e-4 * (1 + std::fabs(ref_lse))) << "head " << h;
    for (std::uint32_t c = 0; c < d; ++c) EXPECT_NEAR(out[h * d + c], ref[c], 1e-3) << "head " << h;
  }
}

TEST_F(DeviceWindowGpu, SlotsHoldTheSinksAndTheLatestTokensAndEvictionsLandOnTheHost) {
  const WindowShape shape{2, 64, DType::kF32, 4, 16};
  const std::uint32_t N = 70, row = shape.num_kv_heads * shape.head_dim;
  const std::vector<float> k = gaussian(static_cast<std::size_t>(N) * row, 1), v = gaussian(k.size(), 2);
  auto dk = DeviceBuffer::allocate(k.size() * 4).value();
  auto dv = DeviceBuffer::allocate(v.size() * 4).value();
  ASSERT_TRUE(dk.upload(k.data(), k.size() * 4).ok());
  ASSERT_TRUE(dv.upload(v.data(), v.size() * 4).ok());
  auto w = DeviceWindow::create(shape);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto decoder = DenseDecoder::create(8, 64).value();
  // The host cache evictions go to: (kv head, token, channel), poisoned until written.
  const float kPoison = -777.0f;
  std::vector<float> hk(static_cast<std::size_t>(shape.num_kv_heads) * N * shape.head_dim, kPoison), hv(hk.size(), kPoison);
  const HostCache host{hk.data(), hv.data(), shape.head_dim, static_cast<std::int64_t>(N) * shape.head_dim};
  std::uint32_t p = 0;
  for (std::uint32_t chunk : {3u, 1u, 16u, 5u, 1u, 16u, 9u, 1u, 1u, 16u}) {
    const std::size_t at = static_cast<std::size_t>(p) * row;
    const TokenRows rows{static_cast<const float*>(dk.data()) + at, static_cast<const float*>(dv.data()) + at, row,
                         shape.head_dim};
    ASSERT_TRUE(w->append(rows, chunk, nullptr, &host).ok());
    p += chunk;
    ASSERT_EQ(w->size(), p);
    ASSERT_TRUE(w->wait_evicted().ok());
    const std::uint32_t latest = std::min(p, p > shape.num_sink ? std::min(shape.window, p - shape.num_sink) : 0u);
    const TokenRange wanted[2] = {{0, std::min(p, shape.num_sink)}, {p - latest, p}};
    SCOPED_TRACE("after " + std::to_string(p) + " tokens");
    expect_attends_like_host(*w, decoder, k, v, wanted, 4);
    for (std::uint32_t t = 0; t < p; ++t) {
      const bool left = t >= shape.num_sink && t + shape.window < p;
      for (std::uint32_t h = 0; h < shape.num_kv_heads; ++h) {
        const std::size_t host_at = (static_cast<std::size_t>(h) * N + t) * shape.head_dim;
        const std::size_t src_at = static_cast<std::size_t>(t) * row + h * shape.head_dim;
        ASSERT_EQ(hk[host_at], left ? k[src_at] : kPoison) << "token " << t << " head " << h;
        ASSERT_EQ(hv[host_at + 63], left ? v[src_at + 63] : kPoison) << "token " << t << " head " << h;
      }
    }
  }
  // More ring tokens than the window in one append, and skipping back, are errors.
  const TokenRows rows{dk.data(), dv.data(), row, shape.head_dim};
  EXPECT_EQ(w->append(rows, 17, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w->skip_to(3).code(), StatusCode::kInvalidArgument);
}

// Two decoders over the same cache, one with the CUDA backend for its static set.
void expect_cuda_decodes_like_cpu(DType dtype) {
  const std::uint32_t kv_heads = 2, q_heads = 8, d = 64, T = 400, prefill = 340;
  std::vector<float> k = gaussian(static_cast<std::size_t>(kv_heads) * T * d, 11),
                     v = gaussian(k.size(), 12), q = gaussian(static_cast<std::size_t>(q_heads) * T * d, 13, 2.0f);
  std::vector<std::uint16_t> k16(k.size()), v16(v.size());
  const void* kp = k.data();
  const void* vp = v.data();
  if (dtype != DType::kF32) {
    convert_from_f32(k.data(), k.size(), dtype, k16.data());
    convert_from_f32(v.data(), v.size(), dtype, v16.data());
    kp = k16.data();
    vp = v16.data();
  }
  auto cache = [&](std::uint32_t tokens) {
    attention::KvView kv{attention::HeadsView::hnd(kp, dtype, kv_heads, T, d), attention::HeadsView::hnd(vp, dtype, kv_heads, T, d)};
    kv.k.num_tokens = kv.v.num_tokens = tokens;
    return kv;
  };
  attention::HeadsView prefill_q = attention::HeadsView::hnd(q.data(), DType::kF32, q_heads, T, d);
  prefill_q.num_tokens = prefill;
  attention::RetrievalConfig cfg;
  cfg.static_set = {4, 32};
  cfg.top_k = 32;
  cfg.beam = 48;
  cfg.merge_batch = 8;
  auto cuda = CudaDenseBackend::create(q_heads, {kv_heads, d, dtype, 4, 32});
  ASSERT_TRUE(cuda.ok()) << cuda.status().to_string();
  CudaDenseBackend* backend = cuda->get();
  auto on_gpu = attention::RetrievalDecoder::build(cache(prefill), prefill_q, cfg, std::move(*cuda));
  auto on_cpu = attention::RetrievalDecoder::build(cache(prefill), prefill_q, cfg);
  ASSERT_TRUE(on_gpu.ok() && on_cpu.ok());
  std::vector<float> qs(static_cast<std::size_t>(q_heads) * d), o_gpu(qs.size()), o_cpu(qs.size());
  for (std::uint32_t t = prefill; t < T; ++t) {
    for (std::uint32_t h = 0; h < q_heads; ++h) std::copy_n(&q[(static_cast<std::size_t>(h) * T + t) * d], d, &qs[h * d]);
    const auto kv = cache(t + 1);
    ASSERT_TRUE((*on_gpu)->decode_step(kv, qs.data(), 0.125f, o_gpu.data()).ok());
    ASSERT_TRUE((*on_cpu)->decode_step(kv, qs.data(), 0.125f, o_cpu.data()).ok());
    for (std::size_t i = 0; i < qs.size(); ++i) ASSERT_NEAR(o_gpu[i], o_cpu[i], 1e-3) << "step " << t << " element " << i;
    for (auto* dec : {on_gpu->get(), on_cpu->get()}) {
      if (dec->pending(t + 1) >= cfg.merge_batch) {
        ASSERT_TRUE(dec->absorb(kv).ok());
      }
    }
  }
  // The first step brought the sinks and the window over; each later one token.
  EXPECT_EQ(backend->uploaded_tokens(), 4u + 32u + (T - prefill - 1));
}

TEST_F(DeviceWindowGpu, TheCudaBackendDecodesLikeTheCpuOne) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(dtype_name(t));
    expect_cuda_decodes_like_cpu(t);
  }
}

TEST_F(DeviceWindowGpu, TheCudaBackendRefusesWhatItCannotDo) {
  auto b = CudaDenseBackend::create(8, {2, 64, DType::kF32, 4, 16}).value();
  std::vector<float> k(2 * 100 * 64, 0.5f), q(8 * 64, 1.0f), o(8 * 64), lse(8);
  const auto kv = attention::KvView{attention::HeadsView::hnd(k.data(), DType::kF32, 2, 100, 64),
                                    attention::HeadsView::hnd(k.data(), DType::kF32, 2, 100, 64)};
  attention::DenseStep step{kv, q.data(), 8, {0, 4}, {60, 100}, 0.125f};  // older than the window
  EXPECT_EQ(b->launch(step, o.data(), lse.data()).code(), StatusCode::kInvalidArgument);
  step.window = {84, 100};
  ASSERT_TRUE(b->launch(step, o.data(), lse.data()).ok());
  EXPECT_EQ(b->launch(step, o.data(), lse.data()).code(), StatusCode::kInvalidArgument);  // no wait()
  ASSERT_TRUE(b->wait().ok());
  for (float x : o) ASSERT_NEAR(x, 0.5f, 1e-5);  // every value row is 0.5
  step.num_q_heads = 4;
  EXPECT_EQ(b->launch(step, o.data(), lse.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CudaDenseBackend::create(6, {4, 64, DType::kF32, 4, 16}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra::gpu
