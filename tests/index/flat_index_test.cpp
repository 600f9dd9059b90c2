#include "index/flat_index.h"
#include "index/recall.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "index/topk.h"

namespace ra {
namespace {

Matrix random_matrix(std::size_t rows, std::size_t dim, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Matrix m = Matrix::zeros(rows, dim).value();
  for (std::size_t i = 0; i < rows * dim; ++i) m.f32_row(0)[i] = normal(rng);
  return m;
}

// The oracle: every score in double, fully sorted (ties by id).
std::vector<Label> naive_topk(const MatrixView& keys, const float* q, std::size_t k) {
  std::vector<double> score(keys.rows);
  std::vector<float> row(keys.dim);
  for (std::size_t i = 0; i < keys.rows; ++i) {
    convert_to_f32(keys.row_bytes(i), keys.dtype, keys.dim, row.data());
    double s = 0;
    for (std::size_t c = 0; c < keys.dim; ++c) s += static_cast<double>(q[c]) * row[c];
    score[i] = s;
  }
  std::vector<Label> ids(keys.rows);
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](Label a, Label b) { return score[a] > score[b]; });
  ids.resize(k);
  return ids;
}

TEST(FlatIndex, MatchesNaiveLoopForEveryDtypeAndThreadCount) {
  const Matrix keys32 = random_matrix(5000, 37, 1);
  const Matrix queries = random_matrix(150, 37, 2);
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    const Matrix keys = Matrix::copy_of(keys32.view(), dtype).value();
    const FlatIndex index = FlatIndex::over(keys.view()).value();
    SearchResults serial, parallel, split;
    ASSERT_TRUE(index.search(queries.view(), {25, 0, 1}, &serial).ok());
    ASSERT_TRUE(index.search(queries.view(), {25, 0, 3}, &parallel).ok());
    // One query and many threads: the keys are split into parts and merged.
    ASSERT_TRUE(index.search(queries.view().slice_rows(0, 1), {25, 0, 4}, &split).ok());
    EXPECT_EQ(serial.ids, parallel.ids);
    EXPECT_EQ(serial.scores, parallel.scores);
    EXPECT_TRUE(std::equal(split.ids.begin(), split.ids.end(), serial.ids.begin()));
    std::size_t mismatched = 0;
    for (std::size_t q = 0; q < queries.rows(); ++q) {
      const auto want = naive_topk(keys.view(), queries.f32_row(q), 25);
      for (std::size_t j = 0; j < 25; ++j) mismatched += serial.ids_of(q)[j] != want[j];
      for (std::size_t j = 1; j < 25; ++j) {
        EXPECT_GE(serial.scores_of(q)[j - 1], serial.scores_of(q)[j]);
      }
    }
    // f32 rounding can swap near-equal neighbours; nothing more.
    EXPECT_LE(mismatched, queries.rows() * 25 / 500) << dtype_name(dtype);
  }
}

TEST(FlatIndex, ScoresAreTheInnerProducts) {
  const Matrix keys = random_matrix(300, 16, 3);
  const Matrix queries = random_matrix(4, 16, 4);
  const FlatIndex index = FlatIndex::over(keys.view()).value();
  SearchResults res;
  ASSERT_TRUE(index.search(queries.view(), {300}, &res).ok());
  for (std::size_t q = 0; q < 4; ++q) {
    for (std::size_t j = 0; j < 300; ++j) {
      const Label id = res.ids_of(q)[j];
      double s = 0;
      for (std::size_t c = 0; c < 16; ++c) s += queries.f32_row(q)[c] * keys.f32_row(id)[c];
      EXPECT_NEAR(res.scores_of(q)[j], s, 1e-4);
    }
  }
  IdMatrix truth{res.num_queries, res.k, res.ids};
  EXPECT_DOUBLE_EQ(recall_at_k(res, truth, 10), 1.0);
}

TEST(FlatIndex, OwningIndexOutlivesItsSource) {
  const Matrix copy = random_matrix(100, 8, 5);
  // The source matrix lives only inside the lambda; the index owns what it took from it.
  const FlatIndex owning = [] { return FlatIndex::owning(random_matrix(100, 8, 5)).value(); }();
  const Matrix q = random_matrix(2, 8, 6);
  SearchResults got, want;
  ASSERT_TRUE(owning.search(q.view(), {5}, &got).ok());
  ASSERT_TRUE(FlatIndex::over(copy.view())->search(q.view(), {5}, &want).ok());
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_EQ(got.scores, want.scores);
  EXPECT_NE(owning.keys().data, copy.data());
}

TEST(FlatIndex, BadInputsAreErrors) {
  Matrix keys = random_matrix(50, 8, 7);
  const Matrix queries = random_matrix(3, 8, 8);
  const FlatIndex index = FlatIndex::over(keys.view()).value();
  SearchResults res;
  EXPECT_EQ(index.search(queries.view(), {51}, &res).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.search(queries.view(), {0}, &res).code(), StatusCode::kInvalidArgument);
  const Matrix wrong_dim = random_matrix(3, 9, 9);
  EXPECT_EQ(index.search(wrong_dim.view(), {5}, &res).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.search(MatrixView{}, {5}, &res).code(), StatusCode::kInvalidArgument);
  Matrix nan_queries = random_matrix(3, 8, 10);
  nan_queries.f32_row(1)[2] = std::numeric_limits<float>::quiet_NaN();
  const Status s = index.search(nan_queries.view(), {5}, &res);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("row 1, column 2"), std::string::npos) << s.message();
  keys.f32_row(3)[0] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(FlatIndex::over(keys.view()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FlatIndex::over(MatrixView{}).status().code(), StatusCode::kInvalidArgument);
  MatrixView bad_stride = queries.view();
  bad_stride.stride = 4;
  EXPECT_EQ(index.search(bad_stride, {5}, &res).code(), StatusCode::kInvalidArgument);
}

TEST(TopK, KeepsTheBestWithDeterministicTies) {
  TopK top(3);
  for (Label id : {9, 4, 7, 1, 8}) top.push(1.0f, id);
  top.push(0.5f, 0);
  Label ids[3];
  float scores[3];
  top.extract(ids, scores);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 4);
  EXPECT_EQ(ids[2], 7);
  top.reset(4);
  top.push(2.0f, 3);
  Label ids4[4];
  float scores4[4];
  top.extract(ids4, scores4);
  EXPECT_EQ(ids4[0], 3);
  EXPECT_EQ(ids4[1], kNoLabel);
  EXPECT_EQ(scores4[3], -std::numeric_limits<float>::infinity());
}

TEST(TopK, PushAllEqualsASortOfEveryScore) {
  // Lengths that are and are not multiples of the 16-score blocks, rising scores (every block
  // passes the bar), falling scores (none does after the first) and many ties.
  std::mt19937 rng(3);
  for (std::size_t n : {5u, 16u, 47u, 1000u, 4099u}) {
    for (int shape = 0; shape < 3; ++shape) {
      std::vector<float> scores(n);
      for (std::size_t i = 0; i < n; ++i) {
        scores[i] = shape == 0 ? static_cast<float>(i) : shape == 1 ? -static_cast<float>(i)
                                                                     : static_cast<float>(rng() % 7);
      }
      const std::size_t k = std::min<std::size_t>(10, n);
      TopK top(k);
      top.push_all(scores.data(), n / 2, 0);  // two calls: the bar carries over
      top.push_all(scores.data() + n / 2, n - n / 2, static_cast<Label>(n / 2));
      std::vector<Label> ids(k), order(n);
      std::vector<float> got(k);
      top.extract(ids.data(), got.data());
      std::iota(order.begin(), order.end(), Label{0});
      std::stable_sort(order.begin(), order.end(), [&](Label a, Label b) { return scores[a] > scores[b]; });
      for (std::size_t j = 0; j < k; ++j) EXPECT_EQ(ids[j], order[j]) << "n " << n << " shape " << shape;
    }
  }
}

TEST(TopK, TiesAtTheBarDoNotDependOnPushOrderOrTightening) {
  // Five distinct scores over 3000 ids pushed in shuffled orders, tightened at random points:
  // the kept entries are always the best scores, ties to the smaller id. NaN never enters.
  std::mt19937 rng(5);
  const std::size_t n = 3000, k = 37;
  std::vector<float> score(n);
  for (float& x : score) x = static_cast<float>(rng() % 5);
  std::vector<Label> expected(n);
  std::iota(expected.begin(), expected.end(), Label{0});
  std::stable_sort(expected.begin(), expected.end(), [&](Label a, Label b) { return score[a] > score[b]; });
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<Label> order(n);
    std::iota(order.begin(), order.end(), Label{0});
    std::shuffle(order.begin(), order.end(), rng);
    TopK top(k);
    for (std::size_t i = 0; i < n; ++i) {
      top.push(score[order[i]], order[i]);
      if (rng() % 97 == 0) top.tighten();
      if (i == n / 2) top.push(std::numeric_limits<float>::quiet_NaN(), n);
    }
    std::vector<Label> ids(k);
    std::vector<float> got(k);
    top.extract(ids.data(), got.data());
    for (std::size_t j = 0; j < k; ++j) EXPECT_EQ(ids[j], expected[j]) << "trial " << trial << " rank " << j;
  }
}

}  // namespace
}  // namespace ra
