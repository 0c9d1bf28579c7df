#include "telemetry/peer_identity.h"

#include <gtest/gtest.h>

namespace halyard::telemetry {
namespace {

TEST(PeerIdentity, FormatsAndParsesBack) {
  const std::string value = formatPeerIdentity({"items-api", "shop", "items", "v2", "items-sa"});
  EXPECT_EQ(value, "workload=items-api;namespace=shop;app=items;version=v2;sa=items-sa");
  PeerIdentity p;
  ASSERT_TRUE(parsePeerIdentity(value, p));
  EXPECT_EQ(p.workload, "items-api");
  EXPECT_EQ(p.namespace_, "shop");
  EXPECT_EQ(p.app, "items");
  EXPECT_EQ(p.version, "v2");
  EXPECT_EQ(p.service_account, "items-sa");
}

TEST(PeerIdentity, EmptyServiceAccountAndUnknownKeys) {
  PeerIdentity p;
  ASSERT_TRUE(parsePeerIdentity("workload=a; namespace=b;future=x;sa=", p));
  EXPECT_EQ(p.workload, "a");
  EXPECT_EQ(p.namespace_, "b");
  EXPECT_EQ(p.app, "");
  EXPECT_EQ(p.service_account, "");
}

TEST(PeerIdentity, MalformedLeavesTheOutputAlone) {
  PeerIdentity p;
  p.workload = "before";
  EXPECT_FALSE(parsePeerIdentity("workload=a;garbage", p));
  EXPECT_FALSE(parsePeerIdentity("=a", p));
  EXPECT_EQ(p.workload, "before");
}

TEST(PeerIdentity, Principal) {
  std::string out = "old";
  formatPrincipal(out, "shop", "items-sa");
  EXPECT_EQ(out, "spiffe://cluster.local/ns/shop/sa/items-sa");
  formatPrincipal(out, "shop", "");
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace halyard::telemetry
