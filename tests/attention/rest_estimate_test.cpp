// The estimate of the keys retrieval leaves out: with every key in its own cluster it is exact;
// merged with the retrieved and static partials it equals full attention when the sets
// partition the context; it stays finite for empty clusters, huge scores and f16 keys.
#include "attention/rest_estimate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attention/dense_attention.h"
#include "attention/merge_state.h"

namespace ra::attention {
namespace {

struct Head {
  std::uint32_t n, d;
  std::vector<float> k, v, q;
  Head(std::uint32_t rows, std::uint32_t dim, std::uint32_t seed, float gain = 1.0f) : n(rows), d(dim), k(rows * dim), v(k.size()), q(dim) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : k) x = normal(rng);
    for (float& x : v) x = normal(rng);
    for (float& x : q) x = gain * normal(rng);
  }
  MatrixView keys() const { return MatrixView::f32(k.data(), n, d); }
  MatrixView values() const { return MatrixView::f32(v.data(), n, d); }
};

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

TEST(RestEstimate, OneKeyPerClusterIsExactAndExcludedKeysAreNotCounted) {
  const Head h(300, 16, 1);
  auto e = RestEstimate::build(h.keys(), h.values(), 1).value();
  EXPECT_EQ(e.num_clusters(), 300u);
  const std::vector<std::uint32_t> exclude = {3, 50, 299, 120};
  std::vector<std::uint32_t> rest;
  for (std::uint32_t j = 0; j < 300; ++j) {
    if (std::find(exclude.begin(), exclude.end(), j) == exclude.end()) rest.push_back(j);
  }
  EstimateScratch sc;
  AttendScratch as;
  std::vector<float> o(16), want(16);
  float lse, lse_want;
  e.estimate(h.q.data(), 0.5f, exclude, h.keys(), h.values(), 0, sc, o.data(), &lse);
  attend_ids(h.q.data(), h.keys(), h.values(), rest, 0.5f, as, want.data(), &lse_want);
  EXPECT_LT(max_diff(o, want), 1e-4);
  EXPECT_NEAR(lse, lse_want, 1e-4);
  // The same with the best clusters attended exactly.
  e.estimate(h.q.data(), 0.5f, exclude, h.keys(), h.values(), 20, sc, o.data(), &lse);
  EXPECT_LT(max_diff(o, want), 1e-4);
}

TEST(RestEstimate, HalfPrecisionSummariesOfOneKeyClustersAreExact) {
  // An f16 cache keeps f16 summaries (half the bytes read); a one-key cluster's mean is its key,
  // so the estimate is still exact attention over the f16 keys and values.
  const Head h(200, 16, 4);
  std::vector<Float16> k16(h.k.size()), v16(h.v.size());
  convert_from_f32(h.k.data(), h.k.size(), DType::kF16, k16.data());
  convert_from_f32(h.v.data(), h.v.size(), DType::kF16, v16.data());
  const MatrixView keys{k16.data(), DType::kF16, 200, 16, 16}, values{v16.data(), DType::kF16, 200, 16, 16};
  auto e = RestEstimate::build(keys, values, 1).value();
  auto f32 = RestEstimate::build(h.keys(), h.values(), 1).value();
  EXPECT_EQ(2 * e.bytes_read() - 8 * e.num_clusters(), f32.bytes_read());  // the two floats per cluster aside
  const std::vector<std::uint32_t> exclude = {7, 8, 150};
  std::vector<std::uint32_t> rest;
  for (std::uint32_t j = 0; j < 200; ++j) {
    if (j != 7 && j != 8 && j != 150) rest.push_back(j);
  }
  EstimateScratch sc;
  AttendScratch as;
  std::vector<float> o(16), want(16);
  float lse, lse_want;
  e.estimate(h.q.data(), 0.5f, exclude, keys, values, 0, sc, o.data(), &lse);
  attend_ids(h.q.data(), keys, values, rest, 0.5f, as, want.data(), &lse_want);
  EXPECT_LT(max_diff(o, want), 1e-4);
  EXPECT_NEAR(lse, lse_want, 1e-4);
}

TEST(RestEstimate, TheSpreadCorrectionIsCappedOnLightTailedClusters) {
  // One cluster of keys at +a and -a along channel 0: the mean of exp(s q.k) is cosh(s q a),
  // far below the Gaussian's exp((s q a)^2 / 2) for s q a = 12; the cap exp(s |q| r) keeps the
  // estimate within log 2 of the truth (r = a here).
  const std::uint32_t n = 64, d = 4;
  std::vector<float> k(n * d, 0.0f), v(n * d, 1.0f), q(d, 0.0f);
  for (std::uint32_t j = 0; j < n; ++j) k[j * d] = j % 2 ? 1.0f : -1.0f;
  q[0] = 12.0f;
  const MatrixView keys = MatrixView::f32(k.data(), n, d), values = MatrixView::f32(v.data(), n, d);
  auto e = RestEstimate::build(keys, values, n).value();
  ASSERT_EQ(e.num_clusters(), 1u);
  EstimateScratch sc;
  std::vector<float> o(d);
  float lse;
  e.estimate(q.data(), 1.0f, {}, keys, values, 0, sc, o.data(), &lse);
  const double truth = std::log(static_cast<double>(n)) + std::log(std::cosh(12.0));
  EXPECT_GE(lse, truth - 1e-3);
  EXPECT_LE(lse, truth + std::log(2.0) + 1e-3);
}

TEST(RestEstimate, ThreeWayMergeEqualsFullAttentionWhenTheSetsPartition) {
  const Head h(400, 16, 2);
  // Static set: tokens 0-3 and 380-399; retrieved: 40 tokens; estimated: the other indexed ones.
  const MatrixView keys = h.keys().slice_rows(4, 380), values = h.values().slice_rows(4, 380);
  auto e = RestEstimate::build(keys, values, 1).value();
  std::vector<std::uint32_t> retrieved_rows, retrieved_tokens;
  for (std::uint32_t j = 0; j < 376; j += 9) retrieved_rows.push_back(j), retrieved_tokens.push_back(j + 4);
  AttendScratch as;
  EstimateScratch sc;
  std::vector<float> o_static(16), o_ret(16), o_est(16), o(16), full(16);
  float l_static, l_ret, l_est, l, l_full;
  const TokenRange statics[2] = {{0, 4}, {380, 400}}, all{0, 400};
  attend_ranges(h.q.data(), h.keys(), h.values(), statics, 0.4f, as, o_static.data(), &l_static);
  attend_ids(h.q.data(), h.keys(), h.values(), retrieved_tokens, 0.4f, as, o_ret.data(), &l_ret);
  e.estimate(h.q.data(), 0.4f, retrieved_rows, keys, values, 4, sc, o_est.data(), &l_est);
  merge_attn_states(o_static.data(), &l_static, o_ret.data(), &l_ret, o.data(), &l, 1, 16, 16);
  merge_attn_states(o.data(), &l, o_est.data(), &l_est, o.data(), &l, 1, 16, 16);
  attend_ranges(h.q.data(), h.keys(), h.values(), {&all, 1}, 0.4f, as, full.data(), &l_full);
  EXPECT_LT(max_diff(o, full), 1e-4);
  EXPECT_NEAR(l, l_full, 1e-4);
}

TEST(RestEstimate, LargerClustersApproximateAndStayFinite) {
  const Head h(4096, 32, 3);
  AttendScratch as;
  EstimateScratch sc;
  std::vector<std::uint32_t> all(4096);
  for (std::uint32_t j = 0; j < 4096; ++j) all[j] = j;
  std::vector<float> o(32), want(32);
  float lse, lse_want;
  attend_ids(h.q.data(), h.keys(), h.values(), all, 0.1f, as, want.data(), &lse_want);
  auto e = RestEstimate::build(h.keys(), h.values(), 64).value();
  e.estimate(h.q.data(), 0.1f, {}, h.keys(), h.values(), 0, sc, o.data(), &lse);
  EXPECT_NEAR(lse, lse_want, 0.05);  // the Gaussian moment correction: within 5% of the mass
  // Every key excluded: nothing left, an empty partial.
  e.estimate(h.q.data(), 0.1f, all, h.keys(), h.values(), 2, sc, o.data(), &lse);
  EXPECT_EQ(lse, -std::numeric_limits<float>::infinity());
  for (float x : o) EXPECT_EQ(x, 0.0f);
  // Huge scores and f16 keys: finite.
  std::vector<float> big(h.q);
  for (float& x : big) x *= 1000.0f;
  std::vector<Float16> k16(h.k.size());
  convert_from_f32(h.k.data(), h.k.size(), DType::kF16, k16.data());
  const MatrixView keys16{k16.data(), DType::kF16, 4096, 32, 32};
  auto e16 = RestEstimate::build(keys16, h.values(), 64).value();
  e16.estimate(big.data(), 1.0f, {}, keys16, h.values(), 4, sc, o.data(), &lse);
  EXPECT_TRUE(std::isfinite(lse));
  for (float x : o) EXPECT_TRUE(std::isfinite(x));
  // More keys join their clusters.
  const Head more(4200, 32, 3);
  ASSERT_TRUE(e.add(more.keys(), more.values()).ok());
  EXPECT_EQ(e.size(), 4200u);
}

}  // namespace
}  // namespace ra::attention
