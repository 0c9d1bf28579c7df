#include "telemetry/peer_identity.h"

#include <gtest/gtest.h>

namespace halyard::telemetry {
namespace {

TEST(PeerIdentity, FormatsAndParsesBackWithoutIdentity) {
  const std::string value =
      formatPeerIdentity({"items-api", "shop", "items", "v2", "2.1.0", "items-sa", "items"});
  EXPECT_EQ(value, "workload=items-api;app=items;version=v2;revision=2.1.0");
  PeerIdentity p;
  ASSERT_TRUE(parsePeerIdentity(value, p));
  EXPECT_EQ(p.workload, "items-api");
  EXPECT_EQ(p.app, "items");
  EXPECT_EQ(p.version, "v2");
  EXPECT_EQ(p.revision, "2.1.0");
  EXPECT_EQ(p.namespace_, "");
  EXPECT_EQ(p.service_account, "");
}

TEST(PeerIdentity, AnOlderProxysHeaderHasNoRevision) {
  EXPECT_EQ(formatPeerIdentity({"a", "ns", "a", "unknown", "", "sa", ""}),
            "workload=a;app=a;version=unknown");
  PeerIdentity p;
  ASSERT_TRUE(parsePeerIdentity("workload=a;app=a;version=v1", p));
  EXPECT_EQ(p.revision, "");
}

TEST(PeerIdentity, TheCanonicalServiceTravelsWhenItIsNotTheApp) {
  PeerIdentity in{"items-1", "shop", "items", "v2", "", "items-sa", "catalog"};
  const std::string value = formatPeerIdentity(in);
  EXPECT_EQ(value, "workload=items-1;app=items;version=v2;service=catalog");
  PeerIdentity p;
  ASSERT_TRUE(parsePeerIdentity(value, p));
  EXPECT_EQ(p.canonical_service, "catalog");
  EXPECT_EQ(p.app, "items");

  // The same as the app: left out, and read back as the app.
  in.canonical_service = "items";
  EXPECT_EQ(formatPeerIdentity(in), "workload=items-1;app=items;version=v2");
  ASSERT_TRUE(parsePeerIdentity(formatPeerIdentity(in), p));
  EXPECT_EQ(p.canonical_service, "items");
}

TEST(PeerIdentity, IdentityKeysInTheHeaderAreIgnored) {
  PeerIdentity p;
  ASSERT_TRUE(parsePeerIdentity("workload=a; namespace=forged;future=x;sa=admin", p));
  EXPECT_EQ(p.workload, "a");
  EXPECT_EQ(p.namespace_, "");
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

TEST(PeerIdentity, SpiffeId) {
  std::string_view td, ns, sa;
  ASSERT_TRUE(parseSpiffeId("spiffe://cluster.local/ns/shop/sa/items-sa", td, ns, sa));
  EXPECT_EQ(td, "cluster.local");
  EXPECT_EQ(ns, "shop");
  EXPECT_EQ(sa, "items-sa");
  for (std::string_view bad :
       {"", "spiffe://", "spiffe:///ns/a/sa/b", "spiffe://td/ns//sa/b", "spiffe://td/ns/a/sa/",
        "spiffe://td/ns/a/sa/b/c", "https://td/ns/a/sa/b", "spiffe://td/sa/b"}) {
    EXPECT_FALSE(parseSpiffeId(bad, td, ns, sa)) << bad;
  }
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
