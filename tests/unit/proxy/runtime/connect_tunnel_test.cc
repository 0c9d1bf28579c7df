#include "proxy/runtime/connect_tunnel.h"

#include <gtest/gtest.h>

namespace halyard::proxy::runtime {
namespace {

TEST(ParseConnectTarget, NamesAndAddressesWithAPort) {
  auto t = parseConnectTarget("reviews.default.svc.cluster.local:9080");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "reviews.default.svc.cluster.local");
  EXPECT_EQ(t->port, 9080);
  t = parseConnectTarget("10.0.0.7:443");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "10.0.0.7");
  EXPECT_EQ(t->port, 443);
  t = parseConnectTarget("[::1]:65535");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 65535);
}

TEST(ParseConnectTarget, RefusesWhatIsNotHostColonPort) {
  for (const char* bad :
       {"reviews", "reviews:", ":80", "reviews:0", "reviews:65536", "reviews:123456", "reviews:8o",
        "reviews:+80", "rev!ews:80", "[]:80", "[::1:80", "[zz::1]:80", "a b:80", ""}) {
    EXPECT_FALSE(parseConnectTarget(bad)) << bad;
  }
}

}  // namespace
}  // namespace halyard::proxy::runtime
