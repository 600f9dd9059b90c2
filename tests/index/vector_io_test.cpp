#include "index/vector_io.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace ra {
namespace {

namespace fs = std::filesystem;

class VectorIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ra_vector_io_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static Matrix sequence(std::size_t rows, std::size_t dim) {
    Matrix m = Matrix::zeros(rows, dim).value();
    for (std::size_t i = 0; i < rows * dim; ++i) m.f32_row(0)[i] = static_cast<float>(i) * 0.5f;
    return m;
  }
  static void write_bytes(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
  }
  static std::string read_bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // A rank-4 (2, 3, 5, 4) f32 .npy whose element at flat index i is i, written by hand.
  std::string rank4_npy() {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 5, 4), }";
    header.append(128 - 10 - header.size() - 1, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size());
    bytes += '\0';
    bytes += header;
    for (int i = 0; i < 120; ++i) {
      const float f = static_cast<float>(i);
      bytes.append(reinterpret_cast<const char*>(&f), 4);
    }
    const std::string p = path("rank4.npy");
    write_bytes(p, bytes);
    return p;
  }

  fs::path dir_;
};

void expect_equal(const Matrix& a, const Matrix& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.dim(), b.dim());
  ASSERT_EQ(a.dtype(), b.dtype());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.bytes()), 0);
}

TEST_F(VectorIoTest, FbinNpyIbinRoundTrip) {
  const Matrix m = sequence(37, 13);
  ASSERT_TRUE(write_fbin(path("a.fbin"), m.view()).ok());
  expect_equal(read_matrix(path("a.fbin")).value(), m);
  EXPECT_EQ(fs::file_size(path("a.fbin")), 8u + 37 * 13 * 4);

  ASSERT_TRUE(write_npy(path("a.npy"), m.view()).ok());
  expect_equal(read_matrix(path("a.npy")).value(), m);

  const Matrix h = Matrix::copy_of(m.view(), DType::kF16).value();
  ASSERT_TRUE(write_npy(path("h.npy"), h.view()).ok());
  expect_equal(read_matrix(path("h.npy"), DType::kF16).value(), h);
  expect_equal(read_matrix(path("h.npy")).value(), Matrix::copy_of(h.view()).value());

  const std::vector<Label> ids = {0, 5, kNoLabel, 2147483647, 7, 1};
  ASSERT_TRUE(write_ibin(path("ids.ibin"), ids.data(), 2, 3).ok());
  const IdMatrix back = read_ibin(path("ids.ibin")).value();
  EXPECT_EQ(back.rows, 2u);
  EXPECT_EQ(back.cols, 3u);
  EXPECT_EQ(back.ids, ids);
  const Label too_big = Label{1} << 40;
  EXPECT_EQ(write_ibin(path("big.ibin"), &too_big, 1, 1).code(), StatusCode::kInvalidArgument);
}

TEST_F(VectorIoTest, SelectorsPickMatricesOutOfHigherRankArrays) {
  const std::string p = rank4_npy();
  // [1,2]: a (5, 4) matrix starting at flat index (1*3 + 2) * 20 = 100.
  Matrix m = read_matrix(p + "[1,2]").value();
  ASSERT_EQ(m.rows(), 5u);
  ASSERT_EQ(m.dim(), 4u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(m.f32_row(0)[i], 100.0f + i);
  // Row slices, negative indices, open bounds.
  m = read_matrix(p + "[1,-1,3:]").value();
  ASSERT_EQ(m.rows(), 2u);
  EXPECT_EQ(m.f32_row(0)[0], 100.0f + 12);
  m = read_matrix(p + "[0, 1, 1:3]").value();
  ASSERT_EQ(m.rows(), 2u);
  EXPECT_EQ(m.f32_row(1)[3], 20.0f + 8 + 3);
  m = read_matrix(p + "[0,0,-2:]").value();
  EXPECT_EQ(m.rows(), 2u);
  // A column slice reads strided data.
  m = read_matrix(p + "[0,0,:,1:3]").value();
  ASSERT_EQ(m.dim(), 2u);
  EXPECT_EQ(m.f32_row(2)[0], 9.0f);
  // A non-trailing pair of axes: fix the last two, keep axes 0 and 1.
  m = read_matrix(p + "[:,:,4,0]").value();
  ASSERT_EQ(m.rows(), 2u);
  ASSERT_EQ(m.dim(), 3u);
  EXPECT_EQ(m.f32_row(1)[2], 60.0f + 40 + 16);
  // .fbin takes selectors too.
  ASSERT_TRUE(write_fbin(path("s.fbin"), sequence(10, 2).view()).ok());
  m = read_matrix(path("s.fbin") + "[7:]").value();
  ASSERT_EQ(m.rows(), 3u);
  EXPECT_EQ(m.f32_row(0)[0], 7.0f);
}

TEST_F(VectorIoTest, TensorsKeepEveryAxisWithRowsFlattened) {
  const std::string p = rank4_npy();
  const Tensor t = read_tensor(p + "[1]").value();
  ASSERT_EQ(t.shape, (std::vector<std::size_t>{3, 5, 4}));
  ASSERT_EQ(t.data.rows(), 15u);
  EXPECT_EQ(t.data.f32_row(0)[0], 60.0f);
  EXPECT_EQ(t.data.f32_row(14)[0], 116.0f);  // (2, 4) -> 60 + 2*20 + 4*4
  const Tensor s = read_tensor(p + "[:, 1:3, 2]").value();  // (2, 2, 4), strided leading axes
  ASSERT_EQ(s.shape, (std::vector<std::size_t>{2, 2, 4}));
  EXPECT_EQ(s.data.f32_row(3)[1], 60.0f + 40 + 8 + 1);
  EXPECT_EQ(read_tensor(p + "[0,0,0]").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(VectorIoTest, BadSelectorsNameTheProblem) {
  const std::string p = rank4_npy();
  auto expect_error = [&](const std::string& spec, const std::string& fragment) {
    auto r = read_matrix(spec);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(r.status().message().find(fragment), std::string::npos)
        << spec << " -> " << r.status().message();
  };
  expect_error(p + "[1]", "3-D array");
  expect_error(p + "[1,2,3]", "1-D array");
  expect_error(p + "[2,0]", "out of range");
  expect_error(p + "[0,-4]", "out of range");
  expect_error(p + "[a,0]", "not an integer");
  expect_error(p + "[0,0,::2]", "steps");
  expect_error(p + "[0,0,0,0,0]", "5 selector items");
  expect_error(p + "[0,0,3:3]", "empty");
  expect_error(p + "[]", "empty selector");
}

TEST_F(VectorIoTest, MalformedFilesGiveCorruptionNamingTheFile) {
  ASSERT_TRUE(write_fbin(path("a.fbin"), sequence(8, 4).view()).ok());
  const std::string good = read_bytes(path("a.fbin"));
  write_bytes(path("trunc.fbin"), good.substr(0, good.size() - 3));
  auto r = read_matrix(path("trunc.fbin"));
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
  EXPECT_NE(r.status().message().find("trunc.fbin"), std::string::npos);
  write_bytes(path("long.fbin"), good + "xx");
  EXPECT_EQ(read_matrix(path("long.fbin")).status().code(), StatusCode::kCorruption);
  write_bytes(path("short.fbin"), "abc");
  EXPECT_EQ(read_matrix(path("short.fbin")).status().code(), StatusCode::kCorruption);

  ASSERT_TRUE(write_npy(path("a.npy"), sequence(8, 4).view()).ok());
  std::string npy = read_bytes(path("a.npy"));
  write_bytes(path("trunc.npy"), npy.substr(0, npy.size() - 1));
  EXPECT_EQ(read_matrix(path("trunc.npy")).status().code(), StatusCode::kCorruption);
  std::string bad_magic = npy;
  bad_magic[1] = 'X';
  write_bytes(path("magic.npy"), bad_magic);
  EXPECT_EQ(read_matrix(path("magic.npy")).status().code(), StatusCode::kCorruption);
  std::string f8 = npy;
  f8.replace(f8.find("<f4"), 3, "<f8");
  write_bytes(path("f8.npy"), f8);
  EXPECT_EQ(read_matrix(path("f8.npy")).status().code(), StatusCode::kUnsupported);
  std::string big_endian = npy;
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  write_bytes(path("be.npy"), big_endian);
  EXPECT_EQ(read_matrix(path("be.npy")).status().code(), StatusCode::kUnsupported);
  std::string fortran = npy;
  fortran.replace(fortran.find("False"), 5, "True ");
  write_bytes(path("fortran.npy"), fortran);
  EXPECT_EQ(read_matrix(path("fortran.npy")).status().code(), StatusCode::kUnsupported);

  write_bytes(path("ids.ibin"), std::string("\x02\0\0\0\x03\0\0\0", 8) + std::string(20, '\0'));
  EXPECT_EQ(read_ibin(path("ids.ibin")).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(read_matrix(path("missing.fbin")).status().code(), StatusCode::kIoError);
  EXPECT_EQ(read_matrix(path("a.txt")).status().code(), StatusCode::kIoError);
  write_bytes(path("a.txt"), "hello");
  EXPECT_EQ(read_matrix(path("a.txt")).status().code(), StatusCode::kUnsupported);
}

TEST_F(VectorIoTest, FailedWriteKeepsTheExistingFile) {
  ASSERT_TRUE(write_fbin(path("keep.fbin"), sequence(4, 4).view()).ok());
  const std::string before = read_bytes(path("keep.fbin"));
  fs::create_directories(path("keep.fbin.tmp"));  // the temporary cannot be created
  EXPECT_FALSE(write_fbin(path("keep.fbin"), sequence(9, 9).view()).ok());
  EXPECT_EQ(read_bytes(path("keep.fbin")), before);
  EXPECT_EQ(write_npy(path("b.npy"), Matrix::zeros(2, 2, DType::kBF16)->view()).code(),
            StatusCode::kUnsupported);
}

}  // namespace
}  // namespace ra
