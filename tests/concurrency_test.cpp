// The concurrent paths, run under ThreadSanitizer by the test script (label tsan) and in every
// build: many threads searching one index, searches on one index while another index of the
// same layer takes appends, and the decoder's parallel heads with insertion between steps.
// Threads are std::threads, so that TSan sees every synchronisation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "attention/retrieval_decoder.h"
#include "attention/retrieval_layer.h"
#include "index/api_guard.h"
#include "index/graph_index.h"
#include "index/matrix.h"

namespace ra {
namespace {

Matrix random_matrix(std::size_t rows, std::size_t dim, std::uint32_t seed, float offset = 0.0f) {
  Matrix m = Matrix::zeros(rows, dim).value();
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (std::size_t i = 0; i < rows * dim; ++i) m.f32_row(0)[i] = normal(rng) + (i % dim == 0 ? offset : 0.0f);
  return m;
}

// One layer of random K, V (kv_heads x T x d) and queries (q_heads x T x d), seeds seed..seed+2.
struct RandomLayer {
  Matrix k, v, q;
  attention::KvView kv;
  attention::HeadsView prefill;
};
RandomLayer random_layer(std::uint32_t kv_heads, std::uint32_t q_heads, std::uint32_t T, std::uint32_t d,
                         std::uint32_t seed) {
  using attention::HeadsView;
  RandomLayer l{random_matrix(kv_heads * T, d, seed), random_matrix(kv_heads * T, d, seed + 1),
                random_matrix(q_heads * T, d, seed + 2, 0.5f), {}, {}};
  l.kv = {HeadsView::hnd(l.k.data(), DType::kF32, kv_heads, T, d), HeadsView::hnd(l.v.data(), DType::kF32, kv_heads, T, d)};
  l.prefill = HeadsView::hnd(l.q.data(), DType::kF32, q_heads, T, d);
  return l;
}

BuildConfig small_config() {
  BuildConfig cfg;
  cfg.max_degree = 12;
  cfg.query_knn = 16;
  cfg.build_beam = 32;
  cfg.num_entries = 8;
  cfg.num_threads = 1;
  return cfg;
}

TEST(Concurrency, ThreadsSearchingOneIndexMatchSerialResults) {
  const Matrix keys = random_matrix(3000, 16, 1), train = random_matrix(1000, 16, 2, 1.5f),
               queries = random_matrix(64, 16, 3, 1.5f);
  auto index = GraphIndex::build(keys.view(), train.view(), small_config()).value();
  const SearchParams p{10, 48, 1};
  SearchResults serial;
  ASSERT_TRUE(index->search(queries.view(), p, &serial).ok());
  constexpr int kThreads = 4;
  std::vector<std::vector<Label>> found(kThreads, std::vector<Label>(serial.ids.size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      SearchContext ctx = index->make_context();
      std::vector<float> scores(10);
      for (std::size_t q = 0; q < queries.rows(); ++q) {
        const std::size_t i = (q + static_cast<std::size_t>(t) * 7) % queries.rows();
        EXPECT_TRUE(index->search_one(queries.f32_row(i), p, ctx, found[t].data() + i * 10, scores.data()).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(found[t], serial.ids) << "thread " << t;
}

TEST(Concurrency, SearchWhileAnotherIndexOfTheLayerTakesAppends) {
  const Matrix keys_a = random_matrix(2000, 16, 4), keys_b = random_matrix(2000, 16, 5),
               train = random_matrix(800, 16, 6, 1.0f), extra = random_matrix(300, 16, 7),
               queries = random_matrix(32, 16, 8, 1.0f);
  auto a = GraphIndex::build(keys_a.view(), train.view(), small_config()).value();
  auto b = GraphIndex::build(keys_b.view(), train.view(), small_config()).value();
  SearchResults before;
  ASSERT_TRUE(a->search(queries.view(), {10, 32, 1}, &before).ok());
  std::thread appender([&] {
    for (std::size_t r = 0; r < extra.rows(); r += 50) {
      EXPECT_TRUE(b->append(extra.view().slice_rows(r, r + 50)).ok());
    }
  });
  std::thread searcher([&] {
    for (int round = 0; round < 4; ++round) {
      SearchResults now;
      EXPECT_TRUE(a->search(queries.view(), {10, 32, 1}, &now).ok());
      EXPECT_EQ(now.ids, before.ids);
    }
  });
  appender.join();
  searcher.join();
  EXPECT_EQ(b->size(), 2300u);
}

TEST(Concurrency, DecoderHeadsRunInParallelAndAbsorbTheirWindow) {
  const std::uint32_t kv_heads = 2, q_heads = 4, T = 400, d = 16;
  const RandomLayer layer = random_layer(kv_heads, q_heads, T, d, 9);
  const Matrix& q = layer.q;
  attention::KvView kv = layer.kv;
  kv.k.num_tokens = kv.v.num_tokens = 320;
  attention::HeadsView prefill = layer.prefill;
  prefill.num_tokens = 320;
  attention::RetrievalConfig cfg;
  cfg.static_set = {4, 16};
  cfg.top_k = 32;
  cfg.beam = 48;
  cfg.merge_batch = 8;
  cfg.num_threads = 4;
  cfg.build = small_config();
  auto decoder = attention::RetrievalDecoder::build(kv, prefill, cfg);
  ASSERT_TRUE(decoder.ok()) << decoder.status().to_string();
  std::vector<float> qs(q_heads * d), out(q_heads * d);
  for (std::uint32_t t = 320; t < T; ++t) {
    kv.k.num_tokens = kv.v.num_tokens = t + 1;
    for (std::uint32_t h = 0; h < q_heads; ++h) {
      std::copy_n(q.f32_row(static_cast<std::size_t>(h) * T + t), d, qs.data() + h * d);
    }
    ASSERT_TRUE((*decoder)->decode_step(kv, qs.data(), 0.25f, out.data()).ok());
    if ((*decoder)->pending(t + 1) >= cfg.merge_batch) {
      ASSERT_TRUE((*decoder)->absorb(kv).ok());
    }
    for (float x : out) ASSERT_TRUE(std::isfinite(x));
  }
  EXPECT_GT((*decoder)->indexed_end(), 320u - 16u);  // evicted tokens were absorbed
}

TEST(Concurrency, LayerBatchAttendsWhileAnotherSequenceAbsorbs) {
  const std::uint32_t kv_heads = 2, q_heads = 4, T = 700, d = 16;
  const RandomLayer data = random_layer(kv_heads, q_heads, T, d, 12);
  const Matrix& q = data.q;
  attention::KvView kv = data.kv;
  attention::HeadsView prefill = data.prefill;
  attention::RetrievalConfig cfg;
  cfg.static_set = {4, 16};
  cfg.top_k = 16;
  cfg.beam = 32;
  cfg.build = small_config();
  auto layer = attention::RetrievalLayer::create(q_heads, kv_heads, d, DType::kF32, cfg).value();
  kv.k.num_tokens = kv.v.num_tokens = prefill.num_tokens = 300;
  for (std::uint64_t s = 0; s < 3; ++s) ASSERT_TRUE(layer->add_sequence(s, kv, prefill).ok());
  std::thread absorber([&] {
    for (std::uint32_t t = 340; t <= T; t += 40) {
      attention::KvView grown = kv;
      grown.k.num_tokens = grown.v.num_tokens = t;
      EXPECT_TRUE(layer->absorb(2, grown).ok());
    }
  });
  std::vector<float> o(2 * q_heads * d), lse(2 * q_heads);
  for (std::uint32_t t = 301; t < 360; ++t) {
    attention::KvView now = kv;
    now.k.num_tokens = now.v.num_tokens = t;
    const float* qt = q.f32_row(t - 1);
    const std::int64_t qs = static_cast<std::int64_t>(T) * d;
    const attention::SequenceQuery batch[2] = {{0, now, qt, qs, o.data(), d, lse.data()},
                                               {1, now, qt, qs, o.data() + q_heads * d, d, lse.data() + q_heads}};
    ASSERT_TRUE(layer->attend(batch, 0.25f, attention::Coverage::kAll).ok());
    for (std::size_t i = 0; i < q_heads * d; ++i) ASSERT_EQ(o[i], o[q_heads * d + i]);  // same data, same answer
  }
  absorber.join();
}

// The API barrier turns any exception into a Status.
Status throws(int kind) {
  RA_API_TRY
  if (kind == 0) throw std::bad_alloc();
  if (kind == 1) throw std::runtime_error("boom");
  throw 42;
  RA_API_CATCH("thing")
}

TEST(ApiBarrier, ExceptionsBecomeStatuses) {
  EXPECT_EQ(throws(0).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(throws(0).message(), "thing: out of memory");
  EXPECT_EQ(throws(1).code(), StatusCode::kInternal);
  EXPECT_EQ(throws(1).message(), "thing: boom");
  EXPECT_EQ(throws(2).code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace ra
