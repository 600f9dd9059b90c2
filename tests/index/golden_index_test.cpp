// Golden index files, one per format version, checked in: a file written by an earlier build
// must keep loading and searching to the results recorded when it was written, and saving it
// again must give the same bytes (a layout change that keeps the version number fails here).
// The keys and queries come from a formula, not a generator, so they cannot drift.
//
// To add the file of a new format version (never overwrite an old one), run:
//   build/tests/graph_index_test --gtest_also_run_disabled_tests --gtest_filter='*WriteGoldenFiles'
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "index/flat_index.h"
#include "index/graph_index.h"
#include "index/matrix.h"
#include "index/vector_io.h"

namespace ra {
namespace {

constexpr std::size_t kKeys = 300, kDim = 8, kTrain = 150, kQueries = 20, kTopK = 5;
const std::string kGolden = std::string(RA_GOLDEN_DIR) + "/graph_index_v1.ra";
const std::string kExpected = std::string(RA_GOLDEN_DIR) + "/graph_index_v1.search_k5_beam16.ibin";

// Quarters in [-8, 8) from an integer hash: exact in f32, the same on every machine, and no
// two rows alike.
Matrix formula(std::size_t rows, std::uint32_t salt) {
  Matrix m = Matrix::zeros(rows, kDim).value();
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t c = 0; c < kDim; ++c) {
      std::uint32_t h = static_cast<std::uint32_t>(i * kDim + c) * 2654435761u + salt * 40503u;
      h ^= h >> 15;
      h *= 0x2c1b3c6du;
      h ^= h >> 12;
      m.f32_row(i)[c] = static_cast<float>(static_cast<int>(h % 64) - 32) * 0.25f;
    }
  }
  return m;
}
const Matrix& keys() { static const Matrix m = formula(kKeys, 1); return m; }
const Matrix& train_queries() { static const Matrix m = formula(kTrain, 2); return m; }
const Matrix& queries() { static const Matrix m = formula(kQueries, 3); return m; }

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(GoldenIndex, DISABLED_WriteGoldenFiles) {
  BuildConfig cfg;
  cfg.max_degree = 8;
  cfg.query_knn = 8;
  cfg.build_beam = 16;
  cfg.num_entries = 4;
  cfg.num_threads = 1;
  BuildReport report;
  auto index = GraphIndex::build(keys().view(), train_queries().view(), cfg, KeyOwnership::kCopy, &report).value();
  ASSERT_EQ(report.unreachable, 0u);
  ASSERT_TRUE(index->save(kGolden).ok());
  SearchResults r;
  ASSERT_TRUE(index->search(queries().view(), {kTopK, 16, 1}, &r).ok());
  ASSERT_TRUE(write_ibin(kExpected, r.ids.data(), r.num_queries, r.k).ok());
}

TEST(GoldenIndex, Version1LoadsAndSearchesToTheRecordedResults) {
  auto loaded = GraphIndex::load(kGolden);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const GraphIndex& index = **loaded;
  EXPECT_EQ(index.size(), kKeys);
  EXPECT_EQ(index.dim(), kDim);
  EXPECT_EQ(index.dtype(), DType::kF32);
  EXPECT_TRUE(index.owns_keys());
  for (std::size_t i = 0; i < kKeys; ++i) {  // the embedded keys are the formula's
    for (std::size_t c = 0; c < kDim; ++c) ASSERT_EQ(index.keys().f32_row(i)[c], keys().f32_row(i)[c]);
  }
  // The same ids as when the file was written, at a beam that does not see every key.
  const IdMatrix expected = read_ibin(kExpected).value();
  SearchResults r;
  ASSERT_TRUE(index.search(queries().view(), {kTopK, 16, 1}, &r).ok());
  EXPECT_EQ(r.ids, expected.ids);
  // With a beam over every key the graph search is exact: FlatIndex's answer.
  SearchResults all, exact;
  ASSERT_TRUE(index.search(queries().view(), {kTopK, kKeys, 1}, &all).ok());
  ASSERT_TRUE(FlatIndex::over(keys().view())->search(queries().view(), {kTopK}, &exact).ok());
  EXPECT_EQ(all.scores, exact.scores);
  // Saving what was loaded writes the same bytes.
  const std::string again = (std::filesystem::temp_directory_path() / "ra_golden_again.ra").string();
  ASSERT_TRUE(index.save(again).ok());
  EXPECT_EQ(bytes_of(again), bytes_of(kGolden));
  std::filesystem::remove(again);
}

}  // namespace
}  // namespace ra
