#include "index/ood_diagnostics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "index/matrix.h"

namespace ra {
namespace {

// x = mean + A z with z ~ N(0, I): covariance A A^T. A is lower triangular with a known inverse
// action (forward substitution), so distances have a closed form: |z|.
struct Gaussian {
  std::size_t d;
  std::vector<double> mean, a;  // a: lower-triangular d x d
  explicit Gaussian(std::size_t dim) : d(dim), mean(dim), a(dim * dim, 0.0) {
    std::mt19937 rng(3);
    std::normal_distribution<double> normal;
    for (std::size_t i = 0; i < d; ++i) {
      mean[i] = 5.0 * normal(rng);
      for (std::size_t j = 0; j < i; ++j) a[i * d + j] = 0.3 * normal(rng);
      a[i * d + i] = 0.5 + std::fabs(normal(rng));
    }
  }
  Matrix sample(std::size_t n, std::uint32_t seed, std::vector<double>* z_norms = nullptr,
                const std::vector<double>& shift = {}) const {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal;
    Matrix m = Matrix::zeros(n, d).value();
    std::vector<double> z(d);
    for (std::size_t r = 0; r < n; ++r) {
      double norm2 = 0;
      for (std::size_t i = 0; i < d; ++i) {
        z[i] = normal(rng) + (shift.empty() ? 0.0 : shift[i]);
        norm2 += z[i] * z[i];
      }
      if (z_norms) z_norms->push_back(std::sqrt(norm2));
      for (std::size_t i = 0; i < d; ++i) {
        double x = mean[i];
        for (std::size_t j = 0; j <= i; ++j) x += a[i * d + j] * z[j];
        m.f32_row(r)[i] = static_cast<float>(x);
      }
    }
    return m;
  }
  std::vector<double> covariance() const {
    std::vector<double> c(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j)
        for (std::size_t k = 0; k < d; ++k) c[i * d + j] += a[i * d + k] * a[j * d + k];
    return c;
  }
};

TEST(Mahalanobis, KnownMomentsGiveTheAnalyticDistance) {
  const Gaussian g(8);
  std::vector<double> z;
  const Matrix x = g.sample(50, 1, &z);
  const auto model = MahalanobisModel::from_moments(g.mean, g.covariance()).value();
  for (std::size_t i = 0; i < 50; ++i) EXPECT_NEAR(model.distance(x.f32_row(i)), z[i], 1e-4 * (1 + z[i]));
}

TEST(Mahalanobis, FittedModelApproachesTheTruth) {
  const Gaussian g(16);
  const Matrix train = g.sample(100000, 2);
  const auto model = MahalanobisModel::fit(train.view(), 1e-6).value();
  for (std::size_t i = 0; i < 16; ++i) EXPECT_NEAR(model.mean()[i], g.mean[i], 0.05);
  std::vector<double> z;
  const Matrix test = g.sample(200, 3, &z);
  for (std::size_t i = 0; i < 200; ++i) EXPECT_NEAR(model.distance(test.f32_row(i)), z[i], 0.03 * z[i] + 0.02);
}

TEST(OodDiagnostics, InDistributionQueriesGiveRatioNearOne) {
  const Gaussian g(16);
  const Matrix keys = g.sample(10000, 4), queries = g.sample(500, 5);
  const auto d = diagnose_ood(keys.view(), queries.view(), {}).value();
  EXPECT_NEAR(d.ratio_mean, 1.0, 0.05);
  EXPECT_NEAR(d.ratio_median, 1.0, 0.07);
  // E|z| for z ~ N(0, I_16) is about 3.94.
  EXPECT_NEAR(d.heldout_key_distance.mean, 3.94, 0.15);
}

TEST(OodDiagnostics, ShiftedQueriesGiveTheExpectedRatio) {
  const Gaussian g(16);
  const Matrix keys = g.sample(10000, 6);
  std::vector<double> shift(16, 0.0);
  shift[3] = 12.0;  // 12 standard deviations along one whitened axis
  std::vector<double> z;
  const Matrix queries = g.sample(500, 7, &z, shift);
  const auto d = diagnose_ood(keys.view(), queries.view(), {}).value();
  double expected = 0;
  for (double v : z) expected += v / static_cast<double>(z.size());
  EXPECT_NEAR(d.query_distance.mean, expected, 0.03 * expected);
  EXPECT_NEAR(d.ratio_mean, expected / 3.94, 0.08 * expected / 3.94);
  EXPECT_GT(d.ratio_mean, 2.5);
}

TEST(OodDiagnostics, BadInputIsAnError) {
  const Gaussian g(16);
  const Matrix few = g.sample(12, 9), queries = g.sample(5, 10);
  const Status s = diagnose_ood(few.view(), queries.view(), {}).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("too few keys"), std::string::npos) << s.message();
  Matrix keys = g.sample(1000, 11);
  keys.f32_row(5)[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(diagnose_ood(keys.view(), queries.view(), {}).status().code(), StatusCode::kInvalidArgument);
  const Matrix other = Matrix::zeros(5, 8).value();
  EXPECT_EQ(diagnose_ood(g.sample(1000, 12).view(), other.view(), {}).status().code(), StatusCode::kInvalidArgument);
  OodConfig bad;
  bad.heldout_fraction = 1.0;
  EXPECT_EQ(diagnose_ood(g.sample(1000, 13).view(), queries.view(), bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MahalanobisModel::fit(g.sample(16, 14).view()).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra
