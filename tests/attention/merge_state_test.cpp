#include "attention/merge_state.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace ra::attention {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Reference attention of one query over the keys in [begin, end), in double.
void reference(const std::vector<float>& scores, const std::vector<float>& values, std::size_t dim,
               std::size_t begin, std::size_t end, float* o, float* lse) {
  if (begin == end) {
    std::fill_n(o, dim, 0.0f);
    *lse = -kInf;
    return;
  }
  double m = -1e300;
  for (std::size_t j = begin; j < end; ++j) m = std::max(m, static_cast<double>(scores[j]));
  double sum = 0;
  std::vector<double> acc(dim, 0);
  for (std::size_t j = begin; j < end; ++j) {
    const double w = std::exp(scores[j] - m);
    sum += w;
    for (std::size_t c = 0; c < dim; ++c) acc[c] += w * values[j * dim + c];
  }
  for (std::size_t c = 0; c < dim; ++c) o[c] = static_cast<float>(acc[c] / sum);
  *lse = static_cast<float>(m + std::log(sum));
}

TEST(MergeState, SplitPartialsMergeToFullAttention) {
  const std::size_t n = 300, dim = 16, heads = 3, stride = 20;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{150}, n}) {
    std::vector<float> oa(heads * stride), ob(heads * stride), full(heads * stride), out(heads * stride);
    std::vector<float> la(heads), lb(heads), lf(heads), lo(heads);
    for (std::size_t h = 0; h < heads; ++h) {
      std::vector<float> scores(n), values(n * dim);
      for (float& s : scores) s = normal(rng);
      for (float& v : values) v = normal(rng);
      reference(scores, values, dim, 0, split, &oa[h * stride], &la[h]);
      reference(scores, values, dim, split, n, &ob[h * stride], &lb[h]);
      reference(scores, values, dim, 0, n, &full[h * stride], &lf[h]);
    }
    merge_attn_states(oa.data(), la.data(), ob.data(), lb.data(), out.data(), lo.data(), heads, dim,
                      stride);
    for (std::size_t h = 0; h < heads; ++h) {
      EXPECT_NEAR(lo[h], lf[h], 1e-5 * std::fabs(lf[h]) + 1e-5);
      for (std::size_t c = 0; c < dim; ++c) {
        EXPECT_NEAR(out[h * stride + c], full[h * stride + c], 1e-5) << "split " << split;
      }
    }
    // Order does not matter.
    std::vector<float> swapped(heads * stride), ls(heads);
    merge_attn_states(ob.data(), lb.data(), oa.data(), la.data(), swapped.data(), ls.data(), heads,
                      dim, stride);
    for (std::size_t h = 0; h < heads; ++h) {
      for (std::size_t c = 0; c < dim; ++c) EXPECT_FLOAT_EQ(swapped[h * stride + c], out[h * stride + c]);
    }
  }
}

TEST(MergeState, TwoEmptyPartialsStayEmptyWithoutNan) {
  std::vector<float> oa(4, 0.0f), ob(4, 0.0f), out(4, 7.0f);
  float la = -kInf, lb = -kInf, lo = 0.0f;
  merge_attn_states(oa.data(), &la, ob.data(), &lb, out.data(), &lo, 1, 4, 4);
  EXPECT_EQ(lo, -kInf);
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(MergeState, OutputMayAliasAnInput) {
  std::vector<float> oa = {1, 2}, ob = {3, 4};
  float la = 0.0f, lb = 0.0f, lo;
  merge_attn_states(oa.data(), &la, ob.data(), &lb, oa.data(), &lo, 1, 2, 2);
  EXPECT_FLOAT_EQ(oa[0], 2.0f);
  EXPECT_FLOAT_EQ(oa[1], 3.0f);
  EXPECT_FLOAT_EQ(lo, std::log(2.0f));
}

}  // namespace
}  // namespace ra::attention
