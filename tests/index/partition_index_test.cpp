#include "index/partition_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "index/crc32.h"
#include "index/flat_index.h"
#include "index/graph_index.h"
#include "index/index_file.h"
#include "index/recall.h"
#include "simd/inner_product.h"
#include "tools/synthetic/synthetic.h"

namespace ra {
namespace {

// A small out-of-distribution attention-like set (dim 30: the last subspace pair is padded).
const tools::SyntheticData& data() {
  static const tools::SyntheticData d = [] {
    tools::SyntheticSpec s;
    s.n = 5000;
    s.dim = 30;
    s.num_queries = 100;
    s.num_train = 100;
    s.seed = 9;
    return tools::generate(s).value();
  }();
  return d;
}

SearchResults exact_top(const MatrixView& keys, std::uint32_t k) {
  SearchResults truth;
  EXPECT_TRUE(FlatIndex::over(keys)->search(data().queries.view(), {k}, &truth).ok());
  return truth;
}

// Every query, one at a time; the work of each added to *stats.
SearchResults search_all(const PartitionIndex& index, const PartitionSearchParams& p, SearchStats* stats = nullptr) {
  const MatrixView q = data().queries.view();
  SearchResults out{q.rows, p.k, std::vector<Label>(q.rows * p.k), std::vector<float>(q.rows * p.k)};
  PartitionContext ctx;
  for (std::size_t i = 0; i < q.rows; ++i) {
    EXPECT_TRUE(index.search_one(q.f32_row(i), p, ctx, out.ids.data() + i * p.k, out.scores.data() + i * p.k, stats).ok());
  }
  return out;
}

double recall(const SearchResults& found, const SearchResults& truth, std::uint32_t k) {
  return recall_at_k(found, IdMatrix{truth.num_queries, truth.k, truth.ids}, k);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ra_partition_test_" + name)).string();
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

PartitionConfig config(std::size_t lists) {
  PartitionConfig cfg;
  cfg.lists = lists;
  return cfg;
}

// Every list probed and every key rescored: the exact top-k, scores included.
TEST(PartitionIndex, AllListsAndAFullReorderAreExact) {
  const MatrixView keys = data().keys.view();
  auto index = PartitionIndex::build(keys, config(40)).value();
  EXPECT_EQ(index->lists(), 40u);
  EXPECT_EQ(index->subspaces() % simd::kCodeSubspaceGroup, 0u);
  const std::uint32_t k = 20;
  SearchStats stats;
  const SearchResults found = search_all(*index, {k, 40, static_cast<std::uint32_t>(keys.rows)}, &stats);
  const SearchResults truth = exact_top(keys, k);
  EXPECT_EQ(found.ids, truth.ids);
  for (std::size_t i = 0; i < found.scores.size(); ++i) {
    // gather vs block summation order, at whichever level each process calibrates: 30 f32
    // products round to within ~1e-5 relative, not 1e-6 (a clean-clone run hit 1.15e-6)
    EXPECT_NEAR(found.scores[i], truth.scores[i], 1e-5 * std::abs(truth.scores[i]));
  }
  // The work: the centroids, every key's code and every key exactly, per query.
  EXPECT_EQ(stats.score_evals, data().queries.rows() * (40 + 2 * keys.rows));
}

// The 4-bit estimates rank well enough that a reorder of 4k finds nearly everything the probed
// lists hold, and more probes never find less.
TEST(PartitionIndex, EstimatesFindWhatTheProbedListsHold) {
  const MatrixView keys = data().keys.view();
  auto index = PartitionIndex::build(keys, config(64)).value();
  const std::uint32_t k = 10;
  const SearchResults truth = exact_top(keys, k);
  const double all = recall(search_all(*index, {k, 64, 4 * k}), truth, k);
  EXPECT_GE(all, 0.95) << "the estimates of every key, reordered at 4k";
  double previous = 0;
  for (std::uint32_t probes : {1u, 4u, 16u, 64u}) {
    const double r = recall(search_all(*index, {k, probes, static_cast<std::uint32_t>(keys.rows)}), truth, k);
    EXPECT_GE(r, previous) << probes << " probes";
    previous = r;
  }
  EXPECT_DOUBLE_EQ(previous, 1.0);
}

// Keys referenced or copied, f32 or f16: the same lists and codes from the same values.
TEST(PartitionIndex, ReferencedAndHalfPrecisionKeysWork) {
  const MatrixView keys = data().keys.view();
  auto copied = PartitionIndex::build(keys, config(32)).value();
  auto referenced = PartitionIndex::build(keys, config(32), KeyOwnership::kReference).value();
  const PartitionSearchParams p{10, 8, 40};
  EXPECT_EQ(search_all(*copied, p).ids, search_all(*referenced, p).ids);
  EXPECT_GT(copied->memory_bytes(), referenced->memory_bytes() + keys.rows * keys.dim * sizeof(float) - 1);

  auto half = Matrix::copy_of(keys, DType::kF16).value();
  auto index = PartitionIndex::build(half.view(), config(32)).value();
  const std::uint32_t k = 10;
  const SearchResults found = search_all(*index, {k, 32, static_cast<std::uint32_t>(keys.rows)});
  EXPECT_EQ(found.ids, exact_top(half.view(), k).ids) << "f16 keys, every list, full reorder";
}

TEST(PartitionIndex, BadInputIsAnError) {
  const MatrixView keys = data().keys.view();
  EXPECT_FALSE(PartitionIndex::build(keys, config(keys.rows + 1)).ok());
  PartitionConfig wide = config(8);
  wide.subspace_dims = 0;
  EXPECT_FALSE(PartitionIndex::build(keys, wide).ok());
  EXPECT_FALSE(PartitionIndex::build(keys.slice_rows(0, 10), config(2)).ok()) << "fewer than 16 keys";
  std::vector<float> nan(32 * 30, 1.0f);
  nan[77] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(PartitionIndex::build(MatrixView::f32(nan.data(), 32, 30), config(2)).ok());
  std::vector<float> big_dim(64 * 1030, 0.5f);
  EXPECT_FALSE(PartitionIndex::build(MatrixView::f32(big_dim.data(), 64, 1030), config(2)).ok())
      << "more than 256 subspaces of 2";

  auto index = PartitionIndex::build(keys, config(16)).value();
  PartitionContext ctx;
  std::vector<Label> ids(20);
  std::vector<float> scores(20);
  const float* q = data().queries.f32_row(0);
  EXPECT_FALSE(index->search_one(q, {0, 4, 0}, ctx, ids.data(), scores.data()).ok()) << "k 0";
  EXPECT_FALSE(index->search_one(q, {10, 0, 0}, ctx, ids.data(), scores.data()).ok()) << "no probes";
  EXPECT_FALSE(index->search_one(q, {10, 17, 0}, ctx, ids.data(), scores.data()).ok()) << "more probes than lists";
  EXPECT_FALSE(index->search_one(q, {10, 4, 5}, ctx, ids.data(), scores.data()).ok()) << "reorder below k";
  EXPECT_FALSE(index->search_one(nullptr, {10, 4, 0}, ctx, ids.data(), scores.data()).ok());
  EXPECT_TRUE(index->search_one(q, {10, 4, 0}, ctx, ids.data(), scores.data()).ok());
  EXPECT_TRUE(std::is_sorted(scores.begin(), scores.begin() + 10, std::greater<>()));
}

// A loaded index answers exactly as the one saved, with and without embedded keys, f16 too.
TEST(PartitionIndex, SavedAndLoadedAnswersAlike) {
  const PartitionSearchParams p{10, 6, 40};
  auto half = Matrix::copy_of(data().keys.view(), DType::kF16).value();
  for (const MatrixView keys : {data().keys.view(), half.view()}) {
    auto built = PartitionIndex::build(keys, config(24)).value();
    const std::string path = temp_path("copy.rap");
    ASSERT_TRUE(built->save(path).ok());
    EXPECT_EQ(index_file_kind(path).value(), IndexKind::kPartition);
    auto loaded = PartitionIndex::load(path).value();
    EXPECT_EQ(loaded->lists(), built->lists());
    EXPECT_EQ(loaded->subspaces(), built->subspaces());
    EXPECT_EQ(loaded->memory_bytes(), built->memory_bytes());
    EXPECT_EQ(search_all(*loaded, p).ids, search_all(*built, p).ids);
    EXPECT_EQ(search_all(*loaded, p).scores, search_all(*built, p).scores);
    EXPECT_EQ(PartitionIndex::load(path, keys).status().code(), StatusCode::kInvalidArgument)
        << "embedded keys and external ones";
    std::filesystem::remove(path);
  }
  auto referenced = PartitionIndex::build(data().keys.view(), config(24), KeyOwnership::kReference).value();
  const std::string path = temp_path("ref.rap");
  ASSERT_TRUE(referenced->save(path).ok());
  EXPECT_LT(file_bytes(path).size(), data().keys.bytes()) << "saved without its keys";
  EXPECT_EQ(PartitionIndex::load(path).status().code(), StatusCode::kInvalidArgument) << "keys missing";
  EXPECT_EQ(PartitionIndex::load(path, half.view()).status().code(), StatusCode::kInvalidArgument) << "wrong dtype";
  EXPECT_EQ(PartitionIndex::load(path, data().keys.view().slice_rows(0, 100)).status().code(),
            StatusCode::kInvalidArgument) << "wrong shape";
  auto loaded = PartitionIndex::load(path, data().keys.view()).value();
  EXPECT_EQ(search_all(*loaded, p).ids, search_all(*referenced, p).ids);
  std::filesystem::remove(path);
}

TEST(PartitionIndex, DamagedFilesGiveClearErrors) {
  auto index = PartitionIndex::build(data().keys.view(), config(16)).value();
  const std::string path = temp_path("good.rap");
  ASSERT_TRUE(index->save(path).ok());
  const std::string good = file_bytes(path);
  auto load_bytes = [](const std::string& bytes) {
    const std::string q = temp_path("bad.rap");
    std::ofstream(q, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
    auto r = PartitionIndex::load(q);
    std::filesystem::remove(q);
    return r.status();
  };
  // The header's checksum rewritten after an edit, so that the check behind it is reached.
  auto with_header = [&](std::size_t at, const void* value, std::size_t bytes) {
    std::string b = good;
    std::memcpy(b.data() + at, value, bytes);
    const std::uint32_t crc = crc32(b.data(), 60);
    std::memcpy(b.data() + 60, &crc, 4);
    return b;
  };
  EXPECT_EQ(load_bytes(good.substr(0, good.size() / 2)).code(), StatusCode::kCorruption);
  EXPECT_EQ(load_bytes(good.substr(0, 40)).code(), StatusCode::kCorruption);
  EXPECT_EQ(load_bytes(good + "x").code(), StatusCode::kCorruption);
  std::string flipped = good;
  flipped[good.size() - 100] ^= 0x10;  // inside the keys
  const Status s = load_bytes(flipped);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.message();
  std::string header = good;
  header[20] ^= 1;  // n, caught by the header checksum
  EXPECT_EQ(load_bytes(header).code(), StatusCode::kCorruption);
  const std::uint32_t newer = 2, lists = 5000 + 1, subspaces = 4;
  EXPECT_EQ(load_bytes(with_header(8, &newer, 4)).code(), StatusCode::kUnsupported);
  EXPECT_EQ(load_bytes(with_header(28, &lists, 4)).code(), StatusCode::kCorruption) << "more lists than keys";
  EXPECT_EQ(load_bytes(with_header(36, &subspaces, 4)).code(), StatusCode::kCorruption) << "subspaces for another dim";
  const std::uint64_t huge = std::uint64_t{1} << 40;
  EXPECT_EQ(load_bytes(with_header(16, &huge, 8)).code(), StatusCode::kCorruption) << "n beyond 32-bit ids";
  // A repeated id, with its section's checksum rewritten: the ids' own check catches it.
  std::string repeated = good;
  const std::size_t ids_at = [&] {  // the IDS section (tag 4): walk the sections
    std::size_t pos = 64;
    for (;;) {
      std::uint32_t tag;
      std::uint64_t bytes;
      std::memcpy(&tag, good.data() + pos, 4);
      std::memcpy(&bytes, good.data() + pos + 4, 8);
      if (tag == 4) return pos;
      pos += 16 + bytes;
    }
  }();
  std::memcpy(repeated.data() + ids_at + 12 + 4, repeated.data() + ids_at + 12, 4);
  std::uint64_t id_bytes;
  std::memcpy(&id_bytes, repeated.data() + ids_at + 4, 8);
  const std::uint32_t crc = crc32(repeated.data() + ids_at + 12, id_bytes);
  std::memcpy(repeated.data() + ids_at + 12 + id_bytes, &crc, 4);
  const Status r = load_bytes(repeated);
  EXPECT_EQ(r.code(), StatusCode::kCorruption);
  EXPECT_NE(r.message().find("repeated"), std::string::npos) << r.message();
  // Each index's loader names the other kind instead of calling it corrupt.
  EXPECT_EQ(GraphIndex::load(path).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionIndex::load(temp_path("missing.rap")).status().code(), StatusCode::kIoError);
  EXPECT_EQ(index_file_kind(temp_path("missing.rap")).status().code(), StatusCode::kIoError);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ra
