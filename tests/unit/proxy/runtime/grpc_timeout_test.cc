#include <gtest/gtest.h>

#include "proxy/runtime/grpc_status.h"

namespace halyard::proxy::runtime {
namespace {

using std::chrono::milliseconds;

TEST(GrpcTimeout, Units) {
  EXPECT_EQ(parseGrpcTimeout("1H"), milliseconds(3'600'000));
  EXPECT_EQ(parseGrpcTimeout("2M"), milliseconds(120'000));
  EXPECT_EQ(parseGrpcTimeout("5S"), milliseconds(5000));
  EXPECT_EQ(parseGrpcTimeout("250m"), milliseconds(250));
  EXPECT_EQ(parseGrpcTimeout("1500u"), milliseconds(2));  // rounded up
  EXPECT_EQ(parseGrpcTimeout("1n"), milliseconds(1));
  EXPECT_EQ(parseGrpcTimeout("99999999S"), milliseconds(99'999'999'000));
}

TEST(GrpcTimeout, Malformed) {
  EXPECT_FALSE(parseGrpcTimeout(""));
  EXPECT_FALSE(parseGrpcTimeout("S"));
  EXPECT_FALSE(parseGrpcTimeout("10"));
  EXPECT_FALSE(parseGrpcTimeout("10s"));
  EXPECT_FALSE(parseGrpcTimeout("-1S"));
  EXPECT_FALSE(parseGrpcTimeout("123456789S"));  // more than 8 digits
}

}  // namespace
}  // namespace halyard::proxy::runtime
