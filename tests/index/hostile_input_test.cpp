// Regression tests from a hostile user's inputs (issue 13): files whose headers promise more
// than they hold, sizes that overflow, out-of-range parameters and index files that pass
// their checksums but hold values build() never writes. Each must give a clear error, without
// a crash, a throw or a large allocation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "index/crc32.h"
#include "index/graph_index.h"
#include "index/vector_io.h"

namespace ra {
namespace {

namespace fs = std::filesystem;

std::string temp_file(const std::string& name, const std::string& bytes) {
  const std::string p = (fs::temp_directory_path() / ("ra_hostile_" + name)).string();
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

std::string u32s(std::uint32_t a, std::uint32_t b) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &a, 4);
  std::memcpy(s.data() + 4, &b, 4);
  return s;
}

void expect_corruption(const Status& s, const char* mentions) {
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find(mentions), std::string::npos) << s.message();
}

TEST(HostileInput, IbinHeaderThatOverflowsIsCorruption) {
  const std::string p = temp_file("big.ibin", u32s(1u << 31, 1u << 31));  // 2^62 ids of 4 bytes
  expect_corruption(read_ibin(p).status(), "overflows");
  fs::remove(p);
}

TEST(HostileInput, IbinWithNegativeIdsIsCorruption) {
  std::string bytes = u32s(1, 2);
  const std::int32_t ids[2] = {3, -7};
  bytes.append(reinterpret_cast<const char*>(ids), sizeof(ids));
  const std::string p = temp_file("neg.ibin", bytes);
  expect_corruption(read_ibin(p).status(), "negative");
  fs::remove(p);
}

TEST(HostileInput, FbinHeaderThatOverflowsIsCorruptionEvenWithASelector) {
  const std::string p = temp_file("big.fbin", u32s(1u << 31, 1u << 31));
  expect_corruption(read_matrix(p).status(), "overflows");
  expect_corruption(read_matrix(p + "[:1]").status(), "overflows");  // no 8 GiB allocation
  const std::string q = temp_file("short.fbin", u32s(1000, 64));     // promises 256000 bytes
  expect_corruption(read_matrix(q + "[:1]").status(), "truncated");
  fs::remove(p);
  fs::remove(q);
}

TEST(HostileInput, NpyShapeBeyondInt64IsCorruptionWithSaneNumbers) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808, 1), }";
  header.append(118 - header.size(), ' ');
  header.push_back('\n');
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back('\0');
  bytes += header;
  const std::string p = temp_file("huge.npy", bytes);
  for (const std::string& spec : {p, p + "[-1]", p + "[0:2]"}) {
    const Status s = read_matrix(spec).status();
    expect_corruption(s, "overflows");
    EXPECT_EQ(s.message().find("-9223372036854775808"), std::string::npos) << s.message();
  }
  fs::remove(p);
}

TEST(HostileInput, HugeBeamIsAnErrorNotATermination) {
  SearchParams p;
  p.k = 10;
  p.beam = 4294967295u;
  const Status s = p.validate(1000);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("beam"), std::string::npos) << s.message();
  BuildConfig cfg;
  cfg.build_beam = 4294967295u;
  EXPECT_EQ(cfg.validate().code(), StatusCode::kInvalidArgument);
}

// A small valid index file, to be altered with its checksums recomputed.
class ValidChecksums : public ::testing::Test {
 protected:
  void SetUp() override {
    Matrix keys = Matrix::zeros(200, 8).value();
    for (std::size_t i = 0; i < 200 * 8; ++i) keys.f32_row(0)[i] = static_cast<float>((i * 7919) % 23) - 11.0f;
    BuildConfig cfg;
    cfg.max_degree = 8;
    cfg.query_knn = 8;
    cfg.build_beam = 16;
    cfg.num_entries = 4;
    cfg.max_hubs = 0;  // version 1: the layout below
    auto index = GraphIndex::build(keys.view(), keys.view(), cfg).value();
    // Per test: ctest runs the tests of this fixture in parallel processes.
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    path_ = (fs::temp_directory_path() / ("ra_hostile_valid_" + name_ + ".ra")).string();
    ASSERT_TRUE(index->save(path_).ok());
    std::ifstream in(path_, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
  }
  void TearDown() override { fs::remove(path_); }
  // Loads `bytes` after recomputing the header checksum and the last section's (the vectors).
  Status load_fixed(std::string bytes) {
    const std::uint32_t h = crc32(bytes.data(), 60);
    std::memcpy(bytes.data() + 60, &h, 4);
    const std::size_t vec_bytes = 200 * 8 * 4, payload = bytes.size() - 4 - vec_bytes;
    const std::uint32_t v = crc32(bytes.data() + payload, vec_bytes);
    std::memcpy(bytes.data() + bytes.size() - 4, &v, 4);
    const std::string p = temp_file("altered_" + name_ + ".ra", bytes);
    Status s = GraphIndex::load(p).status();
    fs::remove(p);
    return s;
  }
  std::string name_, path_, bytes_;
};

TEST_F(ValidChecksums, UnchangedFileLoads) { EXPECT_TRUE(load_fixed(bytes_).ok()); }

TEST_F(ValidChecksums, ValuesBuildNeverWritesAreRefused) {
  auto with_u32 = [&](std::size_t offset, std::uint32_t value) {
    std::string b = bytes_;
    std::memcpy(b.data() + offset, &value, 4);
    return b;
  };
  // Header layout: magic 0-7, version 8, header_bytes 12, n 16, dim 24, max_degree 28,
  // num_entries 32, flags 36, dtype 40, pad 41-43, query_knn 44, build_beam 48, reserved 52-59.
  expect_corruption(load_fixed(with_u32(48, 0xFFFFFFFFu)), "out of range");  // build_beam
  expect_corruption(load_fixed(with_u32(44, 0)), "out of range");            // query_knn
  expect_corruption(load_fixed(with_u32(52, 1)), "reserved");
  expect_corruption(load_fixed(with_u32(36, 1u | 4u)), "flags");
  std::string nan_key = bytes_;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan_key.data() + nan_key.size() - 4 - 4 * 8, &nan, 4);  // a value of the last key
  expect_corruption(load_fixed(nan_key), "non-finite");
}

TEST(HostileInput, DirectoryAsIndexIsAnIoErrorNotOutOfMemory) {
  const Status s = GraphIndex::load(fs::temp_directory_path().string()).status();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("not a regular file"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ra
