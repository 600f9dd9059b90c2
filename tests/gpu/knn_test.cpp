// The GPU exact kNN against the CPU one (FlatIndex), and a graph built with it. Skips without a
// CUDA device.
#include "gpu/knn.h"

#include <gtest/gtest.h>

#include <random>

#include "gpu/device_info.h"
#include "index/flat_index.h"
#include "index/graph_index.h"
#include "index/recall.h"

namespace ra::gpu {
namespace {

Matrix random_rows(std::size_t rows, std::size_t dim, unsigned seed, bool ties) {
  Matrix m = Matrix::zeros(rows, dim).value();
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  // With ties, small integers: many equal scores, which must break towards the smaller id.
  for (std::size_t i = 0; i < rows * dim; ++i) m.f32_row(0)[i] = ties ? static_cast<float>(rng() % 3) : g(rng);
  return m;
}

class GpuKnn : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device on this machine";
  }
};

TEST_F(GpuKnn, EqualsTheCpuExactKnn) {
  // Sizes that are not multiples of the tiles; k small, large, and past one sort chunk.
  for (bool ties : {false, true}) {
    for (std::uint32_t k : {1u, 100u, 1124u}) {
      const Matrix keys = random_rows(40000, 32, 1, ties), queries = random_rows(1500, 32, 2, ties);
      std::vector<NodeId> gpu;
      ASSERT_TRUE(exact_knn(keys.view(), queries.view(), k, &gpu).ok());
      SearchResults cpu;
      ASSERT_TRUE(FlatIndex::over(keys.view())->search(queries.view(), {k}, &cpu).ok());
      ASSERT_EQ(gpu.size(), cpu.ids.size());
      std::size_t differ = 0;
      for (std::size_t i = 0; i < gpu.size(); ++i) differ += static_cast<Label>(gpu[i]) != cpu.ids[i];
      // SGEMM and the CPU kernels sum in different orders: a near-tie may swap, nothing more.
      EXPECT_LE(differ, gpu.size() / 1000) << "k " << k << (ties ? " with ties" : "");
    }
  }
}

TEST_F(GpuKnn, HalfPrecisionKeysScoreAsTheirF32Values) {
  const Matrix keys = random_rows(20000, 32, 10, false), queries = random_rows(500, 32, 11, false);
  for (DType t : {DType::kF16, DType::kBF16}) {
    std::vector<std::uint16_t> narrow(keys.rows() * 32);
    convert_from_f32(keys.f32_row(0), narrow.size(), t, narrow.data());
    Matrix widened = Matrix::zeros(keys.rows(), 32).value();
    convert_to_f32(narrow.data(), t, narrow.size(), widened.f32_row(0));
    const MatrixView half{narrow.data(), t, keys.rows(), 32, 32};
    std::vector<NodeId> from_half, from_f32;
    ASSERT_TRUE(exact_knn(half, queries.view(), 50, &from_half).ok());
    ASSERT_TRUE(exact_knn(widened.view(), queries.view(), 50, &from_f32).ok());
    EXPECT_EQ(from_half, from_f32) << dtype_name(t);
  }
}

TEST_F(GpuKnn, KeysStreamedInChunksGiveTheSameLists) {
  // 40000 keys through 16384-key chunks (three, the last partial) against all at once.
  const Matrix keys = random_rows(40000, 32, 8, false), queries = random_rows(1500, 32, 9, false);
  std::vector<NodeId> whole, chunked;
  ASSERT_TRUE(exact_knn(keys.view(), queries.view(), 100, &whole).ok());
  ASSERT_TRUE(exact_knn_in_chunks(keys.view(), queries.view(), 100, 16384, &chunked).ok());
  EXPECT_EQ(whole, chunked);
}

TEST_F(GpuKnn, BuildsAnIndexAsGoodAsTheCpuKnn) {
  const Matrix keys = random_rows(8000, 32, 3, false), train = random_rows(4000, 32, 4, false);
  const Matrix queries = random_rows(300, 32, 7, false);
  BuildConfig cpu_cfg, gpu_cfg;
  gpu_cfg.exact_knn = exact_knn;
  auto a = GraphIndex::build(keys.view(), train.view(), cpu_cfg).value();
  auto b = GraphIndex::build(keys.view(), train.view(), gpu_cfg).value();
  SearchResults truth, ra, rb;
  ASSERT_TRUE(FlatIndex::over(keys.view())->search(queries.view(), {10}, &truth).ok());
  ASSERT_TRUE(a->search(queries.view(), {10, 64, 1}, &ra).ok());
  ASSERT_TRUE(b->search(queries.view(), {10, 64, 1}, &rb).ok());
  const IdMatrix t{truth.num_queries, truth.k, truth.ids};
  EXPECT_GE(recall_at_k(rb, t, 10), recall_at_k(ra, t, 10) - 0.02);
}

TEST_F(GpuKnn, BadArgumentsAreErrors) {
  const Matrix keys = random_rows(100, 8, 5, false), queries = random_rows(10, 4, 6, false);
  std::vector<NodeId> out;
  EXPECT_EQ(exact_knn(keys.view(), queries.view(), 5, &out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(exact_knn(keys.view(), keys.view(), 101, &out).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra::gpu
