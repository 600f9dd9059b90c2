// The README's embedding example, compiled and run: the code between the markers is the
// README's, word for word (tests/tools/readme_example_test.cmake checks that they agree).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attention/dense_attention.h"

// [readme example]
#include <retrieval_attention/attention/merge_state.h>
#include <retrieval_attention/attention/retrieval_layer.h>

// One layer of an engine: 8 query heads over 2 KV heads of dim 64, an f32 cache laid out
// (kv_head, token, dim) with room for `capacity` tokens per sequence.
ra::Status decode_one_step(ra::attention::RetrievalLayer& layer, std::uint64_t seq, const float* k_cache,
                           const float* v_cache, std::uint32_t capacity, std::uint32_t tokens,
                           const float* q /* (8, 64) */, const float* o_static, const float* lse_static,
                           float* o /* (8, 64) */) {
  using namespace ra::attention;
  KvView kv{HeadsView::hnd(k_cache, ra::DType::kF32, 2, capacity, 64),
            HeadsView::hnd(v_cache, ra::DType::kF32, 2, capacity, 64)};
  kv.k.num_tokens = kv.v.num_tokens = tokens;
  // The retrieved keys and the tail; the engine attends sinks + window itself (o_static).
  float o_ret[8 * 64], lse_ret[8];
  const SequenceQuery query{seq, kv, q, 64, o_ret, 64, lse_ret};
  RA_RETURN_IF_ERROR(layer.attend({&query, 1}, 0.125f, Coverage::kRetrievedAndTail));
  float lse[8];
  merge_attn_states(o_static, lse_static, o_ret, lse_ret, o, lse, 8, 64, 64);
  // Between steps (here, or on another thread): tokens that left the window join the index.
  RA_ASSIGN_OR_RETURN(const std::uint32_t waiting, layer.pending(seq, tokens));
  if (waiting >= 256) RA_RETURN_IF_ERROR(layer.absorb(seq, kv));
  return ra::Status::OK();
}
// [readme example end]

namespace {

TEST(ReadmeExample, DecodesAStepThatEqualsFullAttention) {
  using namespace ra::attention;
  constexpr std::uint32_t capacity = 1200, prefill = 1100;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> k(2 * capacity * 64), v(k.size()), q(8 * capacity * 64);
  for (float& x : k) x = normal(rng);
  for (float& x : v) x = normal(rng);
  for (float& x : q) x = normal(rng);
  RetrievalConfig cfg;  // sinks 4, window 64, top-100
  cfg.top_k = 2000;     // every indexed key: the result must be exact
  cfg.beam = 2000;
  auto layer = RetrievalLayer::create(8, 2, 64, ra::DType::kF32, cfg).value();
  KvView kv{HeadsView::hnd(k.data(), ra::DType::kF32, 2, capacity, 64),
            HeadsView::hnd(v.data(), ra::DType::kF32, 2, capacity, 64)};
  kv.k.num_tokens = kv.v.num_tokens = prefill;
  HeadsView pq = HeadsView::hnd(q.data(), ra::DType::kF32, 8, capacity, 64);
  pq.num_tokens = prefill;
  ASSERT_TRUE(layer->add_sequence(7, kv, pq).ok());
  const std::uint32_t T = prefill + 1;
  kv.k.num_tokens = kv.v.num_tokens = T;
  std::vector<float> qt(8 * 64), o_static(8 * 64), lse_static(8), o(8 * 64);
  AttendScratch scratch;
  const TokenRange statics[2] = {{0, 4}, {T - 64, T}}, all{0, T};
  for (std::uint32_t h = 0; h < 8; ++h) {
    std::copy_n(q.data() + (static_cast<std::size_t>(h) * capacity + T - 1) * 64, 64, qt.data() + h * 64);
    attend_ranges(qt.data() + h * 64, kv.k.head(h / 4), kv.v.head(h / 4), statics, 0.125f, scratch,
                  o_static.data() + h * 64, &lse_static[h]);
  }
  ASSERT_TRUE(decode_one_step(*layer, 7, k.data(), v.data(), capacity, T, qt.data(), o_static.data(),
                              lse_static.data(), o.data()).ok());
  for (std::uint32_t h = 0; h < 8; ++h) {
    std::vector<float> full(64);
    float lse;
    attend_ranges(qt.data() + h * 64, kv.k.head(h / 4), kv.v.head(h / 4), {&all, 1}, 0.125f, scratch, full.data(), &lse);
    for (int c = 0; c < 64; ++c) EXPECT_NEAR(o[h * 64 + c], full[c], 1e-5) << h;
  }
}

}  // namespace
