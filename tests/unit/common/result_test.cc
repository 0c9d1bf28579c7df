#include "common/error.h"

#include <gtest/gtest.h>

namespace halyard::common {
namespace {

Expected<int> parsePositive(int v) {
  if (v <= 0) return fail(ErrorKind::kInvalidArgument, "must be positive");
  return v;
}

TEST(ResultTest, CarriesValue) {
  auto r = parsePositive(3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
}

TEST(ResultTest, CarriesStructuredError) {
  auto r = parsePositive(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.error().message, "must be positive");
  EXPECT_STREQ(toString(r.error().kind), "invalid_argument");
}

TEST(ResultTest, VoidResult) {
  Result<void, Error> ok = Ok{};
  EXPECT_TRUE(ok.ok());
  Result<void, Error> bad = fail(ErrorKind::kIo, "closed", ErrorSource::kUpstream, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().retryable);
  EXPECT_EQ(bad.error().source, ErrorSource::kUpstream);
}

}  // namespace
}  // namespace halyard::common
