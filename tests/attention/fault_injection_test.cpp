// Allocation failure injected into RetrievalLayer: this executable replaces the global operator
// new with one that throws std::bad_alloc once a countdown reaches zero. Every failing call
// must return ResourceExhausted (no exception crosses the API, no crash), and the sequences that
// were already in the layer must answer exactly as before.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include "attention/retrieval_layer.h"

namespace {
std::atomic<long> g_countdown{-1};  // < 0: never fail
}  // namespace

void* operator new(std::size_t n) {
  if (g_countdown.load(std::memory_order_relaxed) >= 0 && g_countdown.fetch_sub(1) == 0) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace ra::attention {
namespace {

TEST(FaultInjection, FailedAllocationsLeaveTheLayerAsItWas) {
  constexpr std::uint32_t kv_heads = 2, q_heads = 4, T = 400, d = 16;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> k(kv_heads * T * d), v(k.size()), q(q_heads * T * d);
  for (float& x : k) x = normal(rng);
  for (float& x : v) x = normal(rng);
  for (float& x : q) x = normal(rng);
  KvView kv{HeadsView::hnd(k.data(), DType::kF32, kv_heads, T, d), HeadsView::hnd(v.data(), DType::kF32, kv_heads, T, d)};
  HeadsView prefill = HeadsView::hnd(q.data(), DType::kF32, q_heads, T, d);
  kv.k.num_tokens = kv.v.num_tokens = prefill.num_tokens = 300;
  RetrievalConfig cfg;
  cfg.static_set = {4, 16};
  cfg.top_k = 16;
  cfg.beam = 32;
  cfg.build.max_degree = 12;
  cfg.build.query_knn = 16;
  cfg.build.build_beam = 32;
  cfg.build.num_entries = 8;
  cfg.build.num_threads = 1;
  cfg.num_threads = 1;
  auto layer = RetrievalLayer::create(q_heads, kv_heads, d, DType::kF32, cfg).value();
  ASSERT_TRUE(layer->add_sequence(1, kv, prefill).ok());
  kv.k.num_tokens = kv.v.num_tokens = 301;
  std::vector<float> o(q_heads * d), lse(q_heads), before;
  const SequenceQuery query{1, kv, q.data() + 300 * d, static_cast<std::int64_t>(T) * d, o.data(), d, lse.data()};
  ASSERT_TRUE(layer->attend({&query, 1}, 0.25f, Coverage::kAll).ok());
  before = o;

  // Fail the n-th allocation of a second sequence's build, for n = 0, 1, 2, ...: each attempt
  // fails cleanly until one allocates nothing more than it needs and succeeds.
  int failures = 0;
  for (long n = 0; n < 100000; n += 1 + n / 8) {
    g_countdown = n;
    const Status s = layer->add_sequence(2, kv, prefill);
    g_countdown = -1;
    if (s.ok()) break;
    ++failures;
    ASSERT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
    ASSERT_EQ(layer->num_sequences(), 1u);
  }
  EXPECT_GT(failures, 3);
  // Attend and absorb under failure too.
  for (long n = 0; n < 40; ++n) {
    g_countdown = n;
    const Status a = layer->attend({&query, 1}, 0.25f, Coverage::kAll);
    g_countdown = -1;
    if (!a.ok()) {
      EXPECT_EQ(a.code(), StatusCode::kResourceExhausted) << a.to_string();
    }
  }
  ASSERT_TRUE(layer->attend({&query, 1}, 0.25f, Coverage::kAll).ok());
  EXPECT_EQ(o, before);  // sequence 1 answers as before every failure
}

}  // namespace
}  // namespace ra::attention
