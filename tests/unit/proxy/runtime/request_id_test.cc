#include "proxy/runtime/request_id.h"

#include <gtest/gtest.h>

#include <set>

#include "proxy/runtime/grpc_status.h"

namespace halyard::proxy::runtime {
namespace {

TEST(RequestId, IsUuidVersion4) {
  upstream::FastRandom random(1);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    RequestId id;
    id.generate(random);
    const std::string s(id.view());
    ASSERT_EQ(s.size(), 36u);
    EXPECT_EQ(s[8], '-');
    EXPECT_EQ(s[13], '-');
    EXPECT_EQ(s[14], '4');
    EXPECT_EQ(s[18], '-');
    EXPECT_NE(std::string("89ab").find(s[19]), std::string::npos);
    EXPECT_EQ(s[23], '-');
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(GrpcStatus, NamesAndNumbers) {
  EXPECT_EQ(grpcStatusNumber("UNAVAILABLE"), "14");
  EXPECT_EQ(grpcStatusNumber("OK"), "0");
  EXPECT_EQ(grpcStatusNumber("7"), "7");
  EXPECT_EQ(grpcStatusNumber("NOPE"), "2");
}

}  // namespace
}  // namespace halyard::proxy::runtime
