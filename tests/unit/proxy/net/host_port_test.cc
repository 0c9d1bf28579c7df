#include "proxy/net/host_port.h"

#include <gtest/gtest.h>

namespace halyard::proxy::net {
namespace {

TEST(HostPort, ParsesV4V6AndRejectsNonsense) {
  auto a = parseHostPort("127.0.0.1:15000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 15000);
  auto b = parseHostPort("[::1]:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_FALSE(parseHostPort("127.0.0.1").ok());
  EXPECT_FALSE(parseHostPort("::1:80").ok());
  EXPECT_FALSE(parseHostPort(":80").ok());
  EXPECT_FALSE(parseHostPort("h:70000").ok());
  EXPECT_FALSE(parseHostPort("h:0").ok());
  EXPECT_TRUE(parseHostPort("h:0", true).ok());
  EXPECT_NE(parseHostPort("h:x").error().message.find("\"x\""), std::string::npos);
}

TEST(HostPort, PortMappings) {
  auto m = parsePortMapping("80=8080");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->first, 80);
  EXPECT_EQ(m->second, 8080);
  EXPECT_FALSE(parsePortMapping("80:8080").ok());
  EXPECT_FALSE(parsePortMapping("80=").ok());
  EXPECT_FALSE(parsePortMapping("-1=80").ok());
}

}  // namespace
}  // namespace halyard::proxy::net
