#include "tools/synthetic/synthetic.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "index/flat_index.h"

namespace ra::tools {
namespace {

bool same_bytes(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.dim() == b.dim() &&
         (a.bytes() == 0 || std::memcmp(a.data(), b.data(), a.bytes()) == 0);
}

SyntheticSpec small_spec(SyntheticKind kind) {
  SyntheticSpec s;
  s.kind = kind;
  s.n = 4000;
  s.dim = 32;
  s.num_queries = 200;
  s.num_train = 1000;
  s.seed = 11;
  return s;
}

TEST(Synthetic, DeterministicBySeedAndThreadCount) {
  for (SyntheticKind kind : {SyntheticKind::kGaussian, SyntheticKind::kAttention}) {
    const SyntheticSpec spec = small_spec(kind);
    omp_set_num_threads(1);
    const SyntheticData a = generate(spec).value();
    omp_set_num_threads(2);
    const SyntheticData b = generate(spec).value();
    EXPECT_TRUE(same_bytes(a.keys, b.keys));
    EXPECT_TRUE(same_bytes(a.train_queries, b.train_queries));
    EXPECT_TRUE(same_bytes(a.queries, b.queries));
    EXPECT_TRUE(same_bytes(a.values, b.values));
    SyntheticSpec other = spec;
    other.seed = 12;
    EXPECT_FALSE(same_bytes(a.keys, generate(other)->keys));
    EXPECT_EQ(a.keys.rows(), spec.n);
    EXPECT_EQ(a.train_queries.rows(), spec.num_train);
    EXPECT_EQ(a.queries.rows(), spec.num_queries);
  }
}

// Mean squared distance, in units of the keys' per-channel spread, of rows to the key mean.
double standardized_distance(const Matrix& keys, const Matrix& rows) {
  const std::size_t d = keys.dim();
  std::vector<double> mean(d, 0), var(d, 0);
  for (std::size_t i = 0; i < keys.rows(); ++i)
    for (std::size_t c = 0; c < d; ++c) mean[c] += keys.f32_row(i)[c];
  for (double& m : mean) m /= static_cast<double>(keys.rows());
  for (std::size_t i = 0; i < keys.rows(); ++i)
    for (std::size_t c = 0; c < d; ++c) var[c] += std::pow(keys.f32_row(i)[c] - mean[c], 2);
  for (double& v : var) v /= static_cast<double>(keys.rows());
  double total = 0;
  for (std::size_t i = 0; i < rows.rows(); ++i)
    for (std::size_t c = 0; c < d; ++c) total += std::pow(rows.f32_row(i)[c] - mean[c], 2) / var[c];
  return total / static_cast<double>(rows.rows());
}

TEST(Synthetic, AttentionQueriesAreOutOfDistributionAndGaussianIsNot) {
  const SyntheticData att = generate(small_spec(SyntheticKind::kAttention)).value();
  const SyntheticData gauss = generate(small_spec(SyntheticKind::kGaussian)).value();
  // Held-out keys sit at about d standardized units from the mean; attention queries far more.
  const double key_d = standardized_distance(att.keys, att.keys);
  EXPECT_GT(standardized_distance(att.keys, att.queries), 3.0 * key_d);
  const double gauss_ratio =
      standardized_distance(gauss.keys, gauss.queries) / standardized_distance(gauss.keys, gauss.keys);
  EXPECT_NEAR(gauss_ratio, 1.0, 0.15);
}

TEST(Synthetic, AttentionHasASinkAndShiftingTopK) {
  const SyntheticSpec spec = small_spec(SyntheticKind::kAttention);
  const SyntheticData d = generate(spec).value();
  const FlatIndex index = FlatIndex::over(d.keys.view()).value();
  SearchResults top;
  ASSERT_TRUE(index.search(d.queries.view(), {10}, &top).ok());
  // Token 0 is in the top-10 of more queries than any other key.
  std::vector<std::size_t> hits(spec.n, 0);
  for (std::size_t q = 0; q < top.num_queries; ++q) {
    for (std::size_t j = 0; j < 10; ++j) ++hits[static_cast<std::size_t>(top.ids_of(q)[j])];
  }
  const std::size_t other = *std::max_element(hits.begin() + 1, hits.end());
  EXPECT_GT(hits[0], top.num_queries / 4);
  EXPECT_GE(hits[0], other);
  // Attention shifts: queries far apart in time share few of their top-10.
  std::size_t shared = 0;
  const std::size_t late = top.num_queries - 1;
  for (std::size_t j = 1; j < 10; ++j)
    for (std::size_t i = 1; i < 10; ++i) shared += top.ids_of(0)[j] == top.ids_of(late)[i];
  EXPECT_LT(shared, 5u);
}

TEST(Synthetic, InvalidSpecsAreRejected) {
  SyntheticSpec s = small_spec(SyntheticKind::kAttention);
  s.dim = 31;
  EXPECT_EQ(generate(s).status().code(), StatusCode::kInvalidArgument);
  s = small_spec(SyntheticKind::kAttention);
  s.num_train = s.n + 1;
  EXPECT_EQ(generate(s).status().code(), StatusCode::kInvalidArgument);
  s.n = 0;
  EXPECT_EQ(generate(s).status().code(), StatusCode::kInvalidArgument);
  s = small_spec(SyntheticKind::kAttention);
  s.rope_scale = 0.5;
  EXPECT_EQ(generate(s).status().code(), StatusCode::kInvalidArgument);
}

TEST(Synthetic, Llama31RopeScalingSlowsOnlyTheLowFrequencies) {
  // The same seed with and without scaling: the same vectors before RoPE, so every pair keeps
  // its norm, the fastest pair (wavelength 2 pi, under 2048 tokens) its rotation, and the slowest
  // pair (wavelength ~2.5M tokens, over 8192) turns 8x slower: at position t it lags by t (f - f/8).
  SyntheticSpec s = small_spec(SyntheticKind::kAttention);
  s.rope_theta = 500000;
  const SyntheticData plain = generate(s).value();
  s.rope_scale = 8;
  const SyntheticData scaled = generate(s).value();
  const std::size_t d = s.dim, last = d / 2 - 1;
  const double f = std::pow(500000.0, -2.0 * static_cast<double>(last) / static_cast<double>(d));
  for (std::size_t t = 1; t < 64; ++t) {
    const float* a = plain.keys.f32_row(t);
    const float* b = scaled.keys.f32_row(t);
    EXPECT_EQ(a[0], b[0]) << t;
    EXPECT_EQ(a[1], b[1]) << t;
    for (std::size_t i = 0; i < d / 2; ++i) {
      EXPECT_NEAR(std::hypot(a[2 * i], a[2 * i + 1]), std::hypot(b[2 * i], b[2 * i + 1]),
                  1e-4 * (1 + std::hypot(a[2 * i], a[2 * i + 1])));
    }
    const double lag = std::atan2(a[2 * last + 1], a[2 * last]) - std::atan2(b[2 * last + 1], b[2 * last]);
    EXPECT_NEAR(lag, static_cast<double>(t) * (f - f / 8), 2e-6) << t;
  }
}

}  // namespace
}  // namespace ra::tools
