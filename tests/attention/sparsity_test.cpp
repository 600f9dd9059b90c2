// Attention sparsity figures against hand-made scores whose softmax is known exactly.
#include "attention/sparsity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "index/matrix.h"

namespace ra::attention {
namespace {

TEST(MassProfile, HandMadeScoresGiveExactFigures) {
  // scale 1 and scores = log(p) make the softmax exactly p.
  const std::vector<double> p = {0.5, 0.3, 0.15, 0.05};
  std::vector<float> s;
  for (double v : p) s.push_back(static_cast<float>(std::log(v)));
  const MassProfile m = mass_profile(s, 1.0);
  EXPECT_DOUBLE_EQ(m.frac_keys_mass50, 0.25);
  EXPECT_DOUBLE_EQ(m.frac_keys_mass90, 0.75);
  EXPECT_DOUBLE_EQ(m.frac_keys_mass99, 1.0);
  EXPECT_DOUBLE_EQ(m.top100_mass, 1.0);
  // 2000 equal scores: half the mass needs half the keys; the top-100 hold 5%.
  const std::vector<float> flat(2000, 1.0f);
  const MassProfile f = mass_profile(flat, 0.7);
  EXPECT_NEAR(f.frac_keys_mass50, 0.5, 1e-12);
  EXPECT_NEAR(f.top100_mass, 0.05, 1e-9);
  EXPECT_NEAR(f.top1000_mass, 0.5, 1e-9);
}

TEST(Sparsity, StaticSetsAndCurve) {
  // Key 0 dominates every query: it holds nearly all the mass, and it is a sink.
  Matrix keys = Matrix::zeros(3000, 4).value();
  std::mt19937 rng(8);
  std::normal_distribution<float> normal;
  for (std::size_t i = 0; i < 3000 * 4; ++i) keys.f32_row(0)[i] = normal(rng);
  keys.f32_row(0)[0] = 100.0f;
  Matrix queries = Matrix::zeros(10, 4).value();
  for (std::size_t i = 0; i < 10; ++i) queries.f32_row(i)[0] = 1.0f;
  SparsityConfig cfg;
  cfg.scale = 1.0;
  cfg.num_sink = 1;
  cfg.window = 0;
  const auto d = attention_sparsity(keys.view(), queries.view(), cfg).value();
  EXPECT_GT(d.static_sink_window_mass, 0.999);
  EXPECT_GT(d.static_first_query_mass, 0.999);
  EXPECT_NEAR(d.mass.frac_keys_mass50, 1.0 / 3000, 1e-12);
  ASSERT_EQ(d.curve_mass.size(), cfg.curve_points);
  for (std::size_t i = 1; i < d.curve_mass.size(); ++i) EXPECT_GE(d.curve_mass[i], d.curve_mass[i - 1] - 1e-12);
  EXPECT_NEAR(d.curve_mass.back(), 1.0, 1e-9);
}

TEST(Sparsity, BadInputIsAnError) {
  Matrix keys = Matrix::zeros(100, 4).value();
  Matrix queries = Matrix::zeros(200, 4).value();
  SparsityConfig causal;
  causal.causal = true;  // 200 queries cannot sit at positions of 100 keys
  EXPECT_EQ(attention_sparsity(keys.view(), queries.view(), causal).status().code(), StatusCode::kInvalidArgument);
  const Matrix other = Matrix::zeros(5, 8).value();
  EXPECT_EQ(attention_sparsity(keys.view(), other.view(), {}).status().code(), StatusCode::kInvalidArgument);
  SparsityConfig bad;
  bad.curve_points = 1;
  EXPECT_EQ(attention_sparsity(keys.view(), queries.view(), bad).status().code(), StatusCode::kInvalidArgument);
  keys.f32_row(3)[1] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(attention_sparsity(keys.view(), queries.view(), {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra::attention
