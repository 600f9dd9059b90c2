// RetrievalLayer as an engine uses it: a batch of sequences of different lengths, the
// retrieved partial merged with a static partial the engine computes itself, absorb between
// steps (and while other sequences attend), and errors that leave the other sequences intact.
#include "attention/retrieval_layer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "attention/dense_attention.h"
#include "attention/merge_state.h"

namespace ra::attention {
namespace {

constexpr std::uint32_t kKvHeads = 2, kQHeads = 4, kDim = 16;

// One sequence's cache, (kv_heads, capacity, dim) HND, and its queries (q_heads, capacity, dim).
struct Cache {
  std::uint32_t capacity;
  std::vector<float> k, v, q;
  Cache(std::uint32_t tokens, std::uint32_t seed)
      : capacity(tokens), k(kKvHeads * tokens * kDim), v(k.size()), q(kQHeads * tokens * kDim) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : k) x = normal(rng);
    for (float& x : v) x = normal(rng);
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = normal(rng) + (i % kDim == 0 ? 1.0f : 0.0f);
  }
  KvView kv(std::uint32_t tokens) const {
    KvView view{HeadsView::hnd(k.data(), DType::kF32, kKvHeads, capacity, kDim),
                HeadsView::hnd(v.data(), DType::kF32, kKvHeads, capacity, kDim)};
    view.k.num_tokens = view.v.num_tokens = tokens;
    return view;
  }
  HeadsView queries(std::uint32_t tokens) const {
    HeadsView view = HeadsView::hnd(q.data(), DType::kF32, kQHeads, capacity, kDim);
    view.num_tokens = tokens;
    return view;
  }
  const float* query_at(std::uint32_t t) const { return q.data() + static_cast<std::size_t>(t) * kDim; }
  std::int64_t q_head_stride() const { return static_cast<std::int64_t>(capacity) * kDim; }
};

RetrievalConfig config(std::uint32_t top_k) {
  RetrievalConfig c;
  c.static_set = {4, 16};
  c.top_k = top_k;
  c.beam = std::max<std::uint32_t>(top_k, 48);
  c.build.max_degree = 12;
  c.build.query_knn = 16;
  c.build.build_beam = 32;
  c.build.num_entries = 8;
  return c;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// The documented way to embed the layer (the README shows this code): one layer object for a
// batch, the engine's own static partial, the layer's partial over the rest, merged by LSE.
TEST(RetrievalLayer, EngineMergesItsStaticPartialWithTheLayersToFullAttention) {
  const Cache a(300, 1), b(260, 2);
  auto layer = RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, config(400)).value();
  ASSERT_TRUE(layer->add_sequence(1, a.kv(250), a.queries(250)).ok());
  ASSERT_TRUE(layer->add_sequence(2, b.kv(200), b.queries(200)).ok());
  const float scale = 0.25f;
  for (std::uint32_t step = 0; step < 40; ++step) {
    const std::uint32_t ta = 250 + step + 1, tb = 200 + step + 1;
    std::vector<float> o(2 * kQHeads * kDim), lse(2 * kQHeads);
    const SequenceQuery batch[2] = {
        {1, a.kv(ta), a.query_at(ta - 1), a.q_head_stride(), o.data(), kDim, lse.data()},
        {2, b.kv(tb), b.query_at(tb - 1), b.q_head_stride(), o.data() + kQHeads * kDim, kDim, lse.data() + kQHeads}};
    ASSERT_TRUE(layer->attend(batch, scale, Coverage::kRetrievedAndTail).ok());
    for (int s = 0; s < 2; ++s) {
      const Cache& c = s == 0 ? a : b;
      const std::uint32_t T = s == 0 ? ta : tb;
      for (std::uint32_t h = 0; h < kQHeads; ++h) {
        // The engine's static partial: sinks + window, here on the CPU.
        AttendScratch scratch;
        const KvView kv = c.kv(T);
        const TokenRange statics[2] = {{0, 4}, {T - 16, T}};
        std::vector<float> o_static(kDim), o_merged(kDim), o_full(kDim);
        float lse_static, lse_merged, lse_full;
        const float* q = c.query_at(T - 1) + h * c.q_head_stride();
        attend_ranges(q, kv.k.head(h / 2), kv.v.head(h / 2), statics, scale, scratch, o_static.data(), &lse_static);
        const std::size_t at = (static_cast<std::size_t>(s) * kQHeads + h);
        merge_attn_states(o_static.data(), &lse_static, o.data() + at * kDim, &lse[at], o_merged.data(), &lse_merged,
                          1, kDim, kDim);
        const TokenRange all{0, T};
        attend_ranges(q, kv.k.head(h / 2), kv.v.head(h / 2), {&all, 1}, scale, scratch, o_full.data(), &lse_full);
        EXPECT_LT(max_abs_diff(o_merged, o_full), 1e-5) << "sequence " << s << " head " << h << " step " << step;
        EXPECT_NEAR(lse_merged, lse_full, 1e-4);
      }
    }
    // Between steps, the engine moves what left the window into the indexes.
    if (layer->pending(1, ta).value() >= 8) {
      ASSERT_TRUE(layer->absorb(1, a.kv(ta)).ok());
    }
    if (layer->pending(2, tb).value() >= 8) {
      ASSERT_TRUE(layer->absorb(2, b.kv(tb)).ok());
    }
  }
  EXPECT_GT(layer->indexed_end(1).value(), 250u - 16u);
}

TEST(RetrievalLayer, BatchOfSequencesEqualsEachDecodedAlone) {
  const Cache a(320, 3), b(240, 4), c(280, 5);
  const RetrievalConfig cfg = config(24);
  auto batched = RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, cfg).value();
  std::vector<std::unique_ptr<RetrievalLayer>> alone;
  const Cache* caches[3] = {&a, &b, &c};
  const std::uint32_t prefill[3] = {300, 200, 260};
  for (std::uint64_t s = 0; s < 3; ++s) {
    ASSERT_TRUE(batched->add_sequence(s, caches[s]->kv(prefill[s]), caches[s]->queries(prefill[s])).ok());
    alone.push_back(RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, cfg).value());
    ASSERT_TRUE(alone[s]->add_sequence(s, caches[s]->kv(prefill[s]), caches[s]->queries(prefill[s])).ok());
  }
  for (std::uint32_t step = 1; step <= 12; ++step) {
    std::vector<float> o(3 * kQHeads * kDim), lse(3 * kQHeads), o1(kQHeads * kDim), lse1(kQHeads);
    std::vector<SequenceQuery> batch;
    for (std::uint64_t s = 0; s < 3; ++s) {
      const std::uint32_t T = prefill[s] + step;
      batch.push_back({s, caches[s]->kv(T), caches[s]->query_at(T - 1), caches[s]->q_head_stride(),
                       o.data() + s * kQHeads * kDim, kDim, lse.data() + s * kQHeads});
    }
    ASSERT_TRUE(batched->attend(batch, 0.25f, Coverage::kAll).ok());
    for (std::uint64_t s = 0; s < 3; ++s) {
      SequenceQuery one = batch[s];
      one.o = o1.data();
      one.lse = lse1.data();
      ASSERT_TRUE(alone[s]->attend({&one, 1}, 0.25f, Coverage::kAll).ok());
      for (std::size_t i = 0; i < o1.size(); ++i) ASSERT_EQ(o1[i], o[s * kQHeads * kDim + i]) << s;
      for (std::uint32_t h = 0; h < kQHeads; ++h) ASSERT_EQ(lse1[h], lse[s * kQHeads + h]);
    }
  }
}

TEST(RetrievalLayer, AbsorbRunsWhileOtherSequencesAttend) {
  const Cache a(900, 6), b(900, 7);
  auto layer = RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, config(24)).value();
  ASSERT_TRUE(layer->add_sequence(1, a.kv(300), a.queries(300)).ok());
  ASSERT_TRUE(layer->add_sequence(2, b.kv(300), b.queries(300)).ok());
  std::thread absorber([&] {
    for (std::uint32_t t = 316; t < 900; t += 64) EXPECT_TRUE(layer->absorb(2, b.kv(t)).ok());
    EXPECT_TRUE(layer->absorb(2, b.kv(900)).ok());
  });
  std::vector<float> o(kQHeads * kDim), lse(kQHeads);
  for (std::uint32_t t = 301; t <= 400; ++t) {
    const SequenceQuery q{1, a.kv(t), a.query_at(t - 1), a.q_head_stride(), o.data(), kDim, lse.data()};
    ASSERT_TRUE(layer->attend({&q, 1}, 0.25f, Coverage::kAll).ok());
    for (float x : o) ASSERT_TRUE(std::isfinite(x));
  }
  absorber.join();
  EXPECT_EQ(layer->indexed_end(2).value(), 900u - 16u);
}

TEST(RetrievalLayer, ErrorsLeaveTheOtherSequencesIntact) {
  const Cache a(300, 8), b(300, 9);
  auto layer = RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, config(24)).value();
  ASSERT_TRUE(layer->add_sequence(1, a.kv(280), a.queries(280)).ok());
  ASSERT_TRUE(layer->add_sequence(2, b.kv(280), b.queries(280)).ok());
  std::vector<float> o(2 * kQHeads * kDim), lse(2 * kQHeads), before(kQHeads * kDim);
  const SequenceQuery good{1, a.kv(281), a.query_at(280), a.q_head_stride(), o.data(), kDim, lse.data()};
  ASSERT_TRUE(layer->attend({&good, 1}, 0.25f, Coverage::kAll).ok());
  before.assign(o.begin(), o.begin() + kQHeads * kDim);

  EXPECT_EQ(layer->add_sequence(1, a.kv(280), a.queries(280)).code(), StatusCode::kInvalidArgument);  // id taken
  KvView wrong = b.kv(281);
  wrong.k.head_dim = wrong.v.head_dim = 8;
  SequenceQuery bad{2, wrong, b.query_at(280), b.q_head_stride(), o.data() + kQHeads * kDim, kDim, lse.data() + kQHeads};
  const SequenceQuery pair[2] = {good, bad};
  EXPECT_EQ(layer->attend(pair, 0.25f, Coverage::kAll).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(layer->attend({&good, 1}, 0.25f, Coverage::kAll).code(), StatusCode::kOk);  // same token again
  EXPECT_EQ(layer->absorb(2, b.kv(100)).code(), StatusCode::kInvalidArgument);          // the cache shrank
  ASSERT_TRUE(layer->remove_sequence(2).ok());
  bad.kv = b.kv(281);
  EXPECT_EQ(layer->attend({&bad, 1}, 0.25f, Coverage::kAll).code(), StatusCode::kNotFound);  // it left
  EXPECT_EQ(layer->remove_sequence(2).code(), StatusCode::kNotFound);
  std::vector<float> nan_q(a.q.begin(), a.q.end());
  nan_q[280 * kDim + 3] = std::nanf("");
  const SequenceQuery nan{1, a.kv(281), nan_q.data() + 280 * kDim, a.q_head_stride(), o.data(), kDim, lse.data()};
  EXPECT_EQ(layer->attend({&nan, 1}, 0.25f, Coverage::kAll).code(), StatusCode::kInvalidArgument);
  // Sequence 1 is unharmed: the same query gives the same output.
  ASSERT_TRUE(layer->attend({&good, 1}, 0.25f, Coverage::kAll).ok());
  EXPECT_EQ(std::vector<float>(o.begin(), o.begin() + kQHeads * kDim), before);
  EXPECT_EQ(layer->num_sequences(), 1u);
}

TEST(RetrievalLayer, BuildReportsProgressAndCanBeCancelled) {
  const Cache a(300, 10);
  auto layer = RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, config(24)).value();
  struct Seen {
    std::vector<std::uint32_t> done;
    bool cancel_at_first = false;
    std::uint64_t bytes = 0;
    double seconds = 0;
  } seen;
  auto progress = [](const BuildProgress& p, void* user) {
    auto* s = static_cast<Seen*>(user);
    s->done.push_back(p.done);
    s->bytes = p.bytes;
    s->seconds = p.seconds;
    return !s->cancel_at_first;
  };
  ASSERT_TRUE(layer->add_sequence(1, a.kv(280), a.queries(280), progress, &seen).ok());
  EXPECT_EQ(seen.done, (std::vector<std::uint32_t>{1, 2}));  // one index per kv head
  EXPECT_EQ(seen.bytes, layer->index_bytes(1).value());
  EXPECT_GT(seen.seconds, 0.0);
  seen = {{}, true};
  EXPECT_EQ(layer->add_sequence(2, a.kv(280), a.queries(280), progress, &seen).code(), StatusCode::kCancelled);
  EXPECT_EQ(layer->num_sequences(), 1u);
}

// With beam_recall 1, each index's beam grows until the held-out prefill queries (the last 32
// positions) find their exact top-k: a step with one of them retrieves exactly its top-k.
TEST(RetrievalLayer, MeasuredBeamFindsTheHeldOutQueriesExactTopK) {
  const std::uint32_t tokens = 2000, top_k = 20;
  const Cache a(tokens, 11);
  RetrievalConfig cfg = config(top_k);
  cfg.beam = top_k;  // too narrow for random keys: the measurement must widen it
  cfg.beam_recall = 1.0;
  auto layer = RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, cfg).value();
  ASSERT_TRUE(layer->add_sequence(1, a.kv(tokens), a.queries(tokens)).ok());
  const std::uint32_t end = layer->indexed_end(1).value();
  std::vector<float> o(kQHeads * kDim), lse(kQHeads);
  const SequenceQuery step{1, a.kv(tokens), a.query_at(tokens - 1), a.q_head_stride(), o.data(), kDim, lse.data()};
  ASSERT_TRUE(layer->attend({&step, 1}, 0.25f, Coverage::kRetrievedAndTail).ok());
  for (std::uint32_t h = 0; h < kQHeads; ++h) {
    const float* q = a.query_at(tokens - 1) + h * a.q_head_stride();
    const KvView kv = a.kv(tokens);
    std::vector<std::pair<float, std::uint32_t>> scored;
    for (std::uint32_t t = 4; t < end; ++t) {
      const float* key = kv.k.head(h / 2).f32_row(t);
      float dot = 0;
      for (std::uint32_t c = 0; c < kDim; ++c) dot += q[c] * key[c];
      scored.push_back({-dot, t});
    }
    std::partial_sort(scored.begin(), scored.begin() + top_k, scored.end());
    std::vector<std::uint32_t> want, got(layer->last_retrieved(h).begin(), layer->last_retrieved(h).end());
    for (std::uint32_t i = 0; i < top_k; ++i) want.push_back(scored[i].second);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << "query head " << h;
  }
  cfg.beam_recall = 1.5;
  EXPECT_EQ(RetrievalLayer::create(kQHeads, kKvHeads, kDim, DType::kF32, cfg).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra::attention
