#include "index/result.h"

#include <gtest/gtest.h>

namespace ra {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return Status::InvalidArgument("not positive: " + std::to_string(x));
  return x;
}

Status twice(int x, int* out) {
  RA_ASSIGN_OR_RETURN(const int v, parse_positive(x));
  *out = 2 * v;
  return Status::OK();
}

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::OK().ok());
  EXPECT_EQ(Status::OK().to_string(), "OK");
  const Status s = Status::Corruption("bad checksum").with_context("x.ra");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.message(), "x.ra: bad checksum");
  EXPECT_EQ(s.to_string(), "Corruption: x.ra: bad checksum");
}

TEST(Result, ValueOrStatusAndMacros) {
  int out = 0;
  EXPECT_TRUE(twice(4, &out).ok());
  EXPECT_EQ(out, 8);
  const Status s = twice(-1, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "not positive: -1");
  const Result<int> r = Status::OK();  // a Result cannot hold OK without a value
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace ra
