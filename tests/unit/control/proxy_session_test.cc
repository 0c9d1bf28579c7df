// The push bookkeeping of one proxy, without gRPC: whole first, deltas on the ACKed base, one push
// in flight with offers coalescing, no push for identical content, NACKs, config errors.
#include "control/push/proxy_session.h"

#include <gtest/gtest.h>

#include <vector>

namespace halyard::control {
namespace {

namespace tr = translate;

// A snapshot with one listener whose virtual hosts are `hosts`, each routing to `cluster`.
std::shared_ptr<const ProxyContent> content(const std::vector<std::string>& hosts,
                                            const std::string& cluster = "outbound|80||a") {
  tr::RouteTable table;
  for (const auto& h : hosts) {
    tr::VirtualHost vh;
    vh.name = h + ":80";
    vh.domains = {h};
    tr::Route r;
    tr::ForwardAction f;
    f.clusters = {tr::WeightedCluster{cluster, 1, {}, {}, std::nullopt}};
    f.total_weight = 1;
    r.action = f;
    vh.routes = {r};
    table.virtual_hosts.push_back(vh);
  }
  tr::Snapshot s;
  s.listeners.push_back({"0.0.0.0_80", "0.0.0.0", 80, "HTTP", tr::ListenerKind::kGateway,
                         std::make_shared<const tr::RouteTable>(table)});
  tr::Cluster c;
  c.name = cluster;
  c.port = 80;
  s.clusters.emplace(cluster, c);
  return ProxyContent::fromSnapshot(s);
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest()
      : session_(ProxyInfo{1, "gw", "istio-system", "gateway"},
                 [this](const v1::ControlMessage* m) { written_.push_back(*m); }) {}

  // The messages written since the last call; completes their writes.
  std::vector<v1::ControlMessage> take() {
    std::vector<v1::ControlMessage> out;
    while (!written_.empty()) {
      out.push_back(written_.front());
      written_.erase(written_.begin());
      session_.onWriteDone(true);
    }
    return out;
  }

  std::vector<v1::ControlMessage> written_;
  ProxySession session_;
};

TEST_F(SessionTest, TheFirstPushIsWholeAndIdenticalContentIsNotPushedAgain) {
  session_.offer(1, content({"a.example"}));
  auto m = take();
  ASSERT_EQ(m.size(), 1u);
  ASSERT_TRUE(m[0].has_push());
  EXPECT_EQ(m[0].push().version(), 1u);
  EXPECT_EQ(m[0].push().base_version(), 0u);
  EXPECT_EQ(m[0].push().resources().virtual_hosts_size(), 1);
  EXPECT_EQ(m[0].push().resources().clusters_size(), 1);
  EXPECT_TRUE(m[0].push().has_warnings());
  session_.onAck(1);

  session_.offer(2, content({"a.example"}));  // a new generation, the same content
  EXPECT_TRUE(take().empty());
  const v1::ProxyStatus s = session_.status();
  EXPECT_EQ(s.acked_version(), 1u);
  EXPECT_EQ(s.sent_version(), 1u);
  EXPECT_EQ(s.last_response(), "ACK");
  EXPECT_EQ(s.pushes(), 1u);
}

TEST_F(SessionTest, ADeltaCarriesOnlyWhatChanged) {
  session_.offer(1, content({"a.example", "b.example"}));
  take();
  session_.onAck(1);
  session_.offer(2, content({"a.example", "c.example"}));
  auto m = take();
  ASSERT_EQ(m.size(), 1u);
  const v1::SnapshotPush& p = m[0].push();
  EXPECT_EQ(p.base_version(), 1u);
  ASSERT_EQ(p.resources().virtual_hosts_size(), 1);
  EXPECT_EQ(p.resources().virtual_hosts(0).name(), "c.example:80");
  EXPECT_EQ(p.resources().listeners_size(), 1);  // its list of virtual hosts changed
  EXPECT_EQ(p.resources().clusters_size(), 0);
  ASSERT_EQ(p.removed_virtual_hosts_size(), 1);
  EXPECT_EQ(p.removed_virtual_hosts(0), "0.0.0.0_80/b.example:80");
  EXPECT_FALSE(p.has_warnings());  // unchanged
}

TEST_F(SessionTest, OneAnswerAtATimeAndOffersInBetweenCoalesce) {
  session_.offer(1, content({"a.example"}));
  take();
  session_.offer(2, content({"b.example"}));
  session_.offer(3, content({"c.example"}));
  EXPECT_TRUE(take().empty());  // waiting for the answer to version 1
  session_.onAck(1);
  auto m = take();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].push().version(), 3u);  // only the latest
  EXPECT_EQ(m[0].push().base_version(), 1u);
}

TEST_F(SessionTest, ANackKeepsTheAckedSnapshotAndTheNextPushIsWhole) {
  session_.offer(1, content({"a.example"}));
  take();
  session_.onAck(1);
  session_.offer(2, content({"b.example"}));
  take();
  session_.onNack(2, "cannot bind port 80");
  v1::ProxyStatus s = session_.status();
  EXPECT_EQ(s.last_response(), "NACK");
  EXPECT_EQ(s.last_response_version(), 2u);
  EXPECT_EQ(s.last_error(), "cannot bind port 80");
  EXPECT_EQ(s.acked_version(), 1u);
  EXPECT_EQ(s.nacks(), 1u);
  uint64_t version = 0;
  ASSERT_NE(session_.serving(&version), nullptr);
  EXPECT_EQ(version, 1u);

  session_.offer(3, content({"b.example"}));  // what was refused, again: not resent
  EXPECT_TRUE(take().empty());
  session_.offer(4, content({"d.example"}));
  auto m = take();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].push().base_version(), 0u);
  session_.onAck(4);
  EXPECT_EQ(session_.status().last_error(), "");
}

TEST_F(SessionTest, ConfigErrorsAreSentOnceAndNeedNoAnswer) {
  session_.offer(1, ProxyContent::fromErrors({"role \"sidecar\" is not served yet"}));
  auto m = take();
  ASSERT_EQ(m.size(), 1u);
  ASSERT_TRUE(m[0].has_error());
  EXPECT_EQ(m[0].error().errors(0), "role \"sidecar\" is not served yet");
  session_.offer(2, ProxyContent::fromErrors({"role \"sidecar\" is not served yet"}));
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(session_.status().last_error(), "role \"sidecar\" is not served yet");
  // A snapshot after an error is pushed at once, without waiting for an answer to the error.
  session_.offer(3, content({"a.example"}));
  m = take();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].has_push());
}

TEST_F(SessionTest, AnswersToOtherVersionsAndWritesAfterCloseAreIgnored) {
  session_.offer(1, content({"a.example"}));
  take();
  session_.onAck(7);
  EXPECT_EQ(session_.status().acked_version(), 0u);
  session_.onAck(1);
  session_.close();
  session_.offer(2, content({"b.example"}));
  EXPECT_TRUE(written_.empty());
}

TEST(ProxyContent, EqualSnapshotsHashEquallyAndShareMessages) {
  auto a = content({"a.example", "b.example"});
  auto b = content({"a.example", "b.example"});
  auto c = content({"a.example"});
  EXPECT_EQ(a->hash(), b->hash());
  EXPECT_NE(a->hash(), c->hash());
  EXPECT_EQ(a->message(c.get(), 1, 2), a->message(c.get(), 1, 2));  // cached, not rebuilt
  EXPECT_NE(a->message(nullptr, 0, 2), a->message(c.get(), 1, 2));
}

TEST_F(SessionTest, CertificatesGoBeforeAnyPendingPushAndWaitForNoAnswer) {
  ca::IssuedCertificate issued{"LEAF", "0A", 10, 20};
  const std::string id = "spiffe://cluster.local/ns/istio-system/sa/default";
  session_.sendCertificate(issued, id, "ROOTS");
  session_.offer(1, content({"a.example"}));
  auto m = take();
  ASSERT_EQ(m.size(), 2u);
  ASSERT_TRUE(m[0].has_certificate());
  EXPECT_EQ(m[0].certificate().spiffe_id(), id);
  EXPECT_EQ(m[0].certificate().certificate_chain(), "LEAF");
  EXPECT_EQ(m[0].certificate().root_certificates(), "ROOTS");
  EXPECT_TRUE(m[1].has_push());

  // A renewal while the push awaits its answer goes at once; so does an error.
  issued.serial_hex = "0B";
  issued.chain_pem = "LEAF2";
  session_.sendCertificate(issued, id, "ROOTS");
  session_.sendCertificateError("csr: bad");
  m = take();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].certificate().certificate_chain(), "LEAF2");
  EXPECT_EQ(m[1].certificate_error().error(), "csr: bad");

  // Written while a push is being written: after it, and before the next push.
  session_.onAck(1);
  session_.offer(2, content({"b.example"}));  // being written now
  session_.offer(3, content({"c.example"}));  // waits for the answer to 2
  session_.sendCertificate(issued, id, "ROOTS");
  m = take();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_TRUE(m[0].has_push());
  EXPECT_TRUE(m[1].has_certificate());

  const v1::ProxyStatus s = session_.status();
  EXPECT_EQ(s.spiffe_id(), id);
  EXPECT_EQ(s.certificate_serial(), "0B");
  EXPECT_EQ(s.certificate_not_before(), 10);
  EXPECT_EQ(s.certificate_not_after(), 20);
  EXPECT_EQ(s.certificates_issued(), 3u);
  std::string chain, roots;
  session_.certificate(&chain, &roots);
  EXPECT_EQ(chain, "LEAF2");
  EXPECT_EQ(roots, "ROOTS");
}

}  // namespace
}  // namespace halyard::control
