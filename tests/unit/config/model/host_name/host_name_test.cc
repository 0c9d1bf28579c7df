#include "config/model/host_name.h"

#include <gtest/gtest.h>

namespace halyard::config::model {
namespace {

TEST(ResolveShortName, ExpandsOnlyNamesWithoutDots) {
  EXPECT_EQ(resolveShortName("reviews", "foo"), "reviews.foo.svc.cluster.local");
  EXPECT_EQ(resolveShortName("reviews", "foo", "corp.local"), "reviews.foo.svc.corp.local");
  EXPECT_EQ(resolveShortName("reviews.prod", "foo"), "reviews.prod");
  EXPECT_EQ(resolveShortName("*.example.com", "foo"), "*.example.com");
  EXPECT_EQ(resolveShortName("*", "foo"), "*");
  EXPECT_EQ(resolveShortName("10.0.0.1", "foo"), "10.0.0.1");
  EXPECT_EQ(resolveShortName("::1", "foo"), "::1");
  EXPECT_EQ(resolveShortName("", "foo"), "");
}

TEST(HostMatches, EitherCoversTheOther) {
  EXPECT_TRUE(hostMatches("a.foo.com", "a.foo.com"));
  EXPECT_FALSE(hostMatches("a.foo.com", "b.foo.com"));
  EXPECT_TRUE(hostMatches("*.foo.com", "a.foo.com"));
  EXPECT_TRUE(hostMatches("a.b.foo.com", "*.foo.com"));
  EXPECT_FALSE(hostMatches("*.foo.com", "foo.com"));
  EXPECT_TRUE(hostMatches("*", "anything.example"));
  EXPECT_TRUE(hostMatches("*.foo.com", "*.a.foo.com"));
  EXPECT_TRUE(hostMatches("*.a.foo.com", "*.foo.com"));
  EXPECT_FALSE(hostMatches("*.foo.com", "*.bar.com"));
  EXPECT_TRUE(hostMatches("*", "*.bar.com"));
}

TEST(HostSubsetOf, FollowsIstioSemantics) {
  EXPECT_TRUE(hostSubsetOf("a.foo.com", "*.foo.com"));
  EXPECT_TRUE(hostSubsetOf("a.b.foo.com", "*.foo.com"));
  EXPECT_FALSE(hostSubsetOf("foo.com", "*.foo.com"));
  EXPECT_TRUE(hostSubsetOf("*.a.foo.com", "*.foo.com"));
  EXPECT_FALSE(hostSubsetOf("*.foo.com", "*.a.foo.com"));
  EXPECT_FALSE(hostSubsetOf("*.foo.com", "a.foo.com"));
  EXPECT_TRUE(hostSubsetOf("*.foo.com", "*"));
  EXPECT_TRUE(hostSubsetOf("a.foo.com", "*"));
  EXPECT_FALSE(hostSubsetOf("*", "*.foo.com"));
  EXPECT_TRUE(hostSubsetOf("a.foo.com", "a.foo.com"));
}

TEST(ResolveGatewayName, AllReferenceForms) {
  EXPECT_EQ(resolveGatewayName("mesh", "foo"), "mesh");
  EXPECT_EQ(resolveGatewayName("gw", "foo"), "foo/gw");
  EXPECT_EQ(resolveGatewayName("./gw", "foo"), "foo/gw");
  EXPECT_EQ(resolveGatewayName("bar/gw", "foo"), "bar/gw");
  EXPECT_EQ(resolveGatewayName("gw.bar.svc.cluster.local", "foo"), "bar/gw");
  EXPECT_EQ(resolveGatewayName("gw.bar", "foo"), "bar/gw");
}

TEST(ParseNamespacedHost, PrefixForms) {
  auto any = parseNamespacedHost("foo.com", "gwns");
  EXPECT_EQ(any.namespace_, "*");
  EXPECT_EQ(any.host, "foo.com");
  auto own = parseNamespacedHost("./foo.com", "gwns");
  EXPECT_EQ(own.namespace_, "gwns");
  EXPECT_EQ(own.host, "foo.com");
  auto named = parseNamespacedHost("bar/*.foo.com", "gwns");
  EXPECT_EQ(named.namespace_, "bar");
  EXPECT_EQ(named.host, "*.foo.com");
  auto all = parseNamespacedHost("*/foo.com", "gwns");
  EXPECT_EQ(all.namespace_, "*");
  EXPECT_EQ(all.host, "foo.com");
}

TEST(IsVisible, ExportToEntries) {
  EXPECT_TRUE(isVisible({}, "a", "b"));
  EXPECT_TRUE(isVisible({"*"}, "a", "b"));
  EXPECT_TRUE(isVisible({"."}, "a", "a"));
  EXPECT_FALSE(isVisible({"."}, "a", "b"));
  EXPECT_FALSE(isVisible({"~"}, "a", "a"));
  EXPECT_TRUE(isVisible({"b"}, "a", "b"));
  EXPECT_FALSE(isVisible({"c"}, "a", "b"));
  EXPECT_TRUE(isVisible({".", "b"}, "a", "b"));
}

TEST(SelectorMatches, EqualityAndEmpty) {
  std::map<std::string, std::string> labels{{"app", "gw"}, {"istio", "ingressgateway"}};
  EXPECT_TRUE(selectorMatches({}, labels));
  EXPECT_TRUE(selectorMatches({{"istio", "ingressgateway"}}, labels));
  EXPECT_FALSE(selectorMatches({{"istio", "egressgateway"}}, labels));
  EXPECT_FALSE(selectorMatches({{"missing", "x"}}, labels));
  EXPECT_FALSE(selectorMatches({{"app", "gw"}}, {}));
}

}  // namespace
}  // namespace halyard::config::model
