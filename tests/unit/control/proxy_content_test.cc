// A sidecar's content: a shared outbound part plus its own resources. Its hash changes exactly
// when either changes, and deltas carry only what changed in either.
#include "control/push/proxy_content.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace halyard::control {
namespace {

namespace tr = translate;

// An outbound part: the 0.0.0.0_80 listener with one virtual host per entry of `hosts` (each
// routing with `prefix`), and their cluster.
tr::Snapshot outbound(const std::vector<std::string>& hosts, const std::string& prefix = "/") {
  tr::RouteTable table;
  for (const auto& h : hosts) {
    tr::VirtualHost vh;
    vh.name = h + ":80";
    vh.domains = {h};
    tr::Route r;
    r.match.uri = tr::StringMatcher{tr::StringMatcher::Kind::kPrefix, prefix, nullptr, false};
    tr::ForwardAction f;
    f.clusters = {tr::WeightedCluster{"outbound|80||a", 1, {}, {}, std::nullopt}};
    f.total_weight = 1;
    r.action = f;
    vh.routes = {r};
    table.virtual_hosts.push_back(vh);
  }
  tr::Snapshot s;
  s.listeners.push_back({"0.0.0.0_80", "0.0.0.0", 80, "HTTP", tr::ListenerKind::kOutboundPort,
                         std::make_shared<const tr::RouteTable>(table)});
  tr::Cluster c;
  c.name = "outbound|80||a";
  c.port = 80;
  s.clusters.emplace(c.name, c);
  return s;
}

// A sidecar's own part: its virtualOutbound listener on `port`.
tr::Snapshot own(uint16_t port) {
  tr::Snapshot s;
  s.listeners.push_back({"virtualOutbound", "127.0.0.1", port, "HTTP",
                         tr::ListenerKind::kOutboundProxy,
                         std::make_shared<const tr::RouteTable>()});
  return s;
}

std::set<std::string> names(const v1::SnapshotPush& p) {
  std::set<std::string> out;
  for (const auto& l : p.resources().listeners()) out.insert("L " + l.name());
  for (const auto& v : p.resources().virtual_hosts()) out.insert("V " + v.name());
  for (const auto& c : p.resources().clusters()) out.insert("C " + c.name());
  for (const auto& n : p.removed_virtual_hosts()) out.insert("-V " + n);
  return out;
}

TEST(SharedProxyContent, HashChangesIffTheContentChanges) {
  auto shared = ProxyContent::share(outbound({"a", "b"}));
  auto a = ProxyContent::withShared(shared, own(15001));
  // Equal parts built apart: equal hashes.
  EXPECT_EQ(a->hash(), ProxyContent::withShared(shared, own(15001))->hash());
  EXPECT_EQ(
      a->hash(),
      ProxyContent::withShared(ProxyContent::share(outbound({"a", "b"})), own(15001))->hash());
  // Another own part, or another shared one: another hash.
  EXPECT_NE(a->hash(), ProxyContent::withShared(shared, own(15002))->hash());
  EXPECT_NE(a->hash(),
            ProxyContent::withShared(ProxyContent::share(outbound({"a", "b"}, "/x")), own(15001))
                ->hash());
  EXPECT_NE(a->hash(),
            ProxyContent::withShared(ProxyContent::share(outbound({"a"})), own(15001))->hash());
}

TEST(SharedProxyContent, WholeAndDeltaPushesCoverBothParts) {
  auto v1_shared = ProxyContent::share(outbound({"a", "b"}));
  auto base = ProxyContent::withShared(v1_shared, own(15001));
  const std::set<std::string> everything = {"L 0.0.0.0_80", "L virtualOutbound", "V a:80", "V b:80",
                                            "C outbound|80||a"};
  EXPECT_EQ(names(base->message(nullptr, 0, 1)->push()), everything);
  v1::Resources all = base->resources();
  EXPECT_EQ(all.listeners_size() + all.virtual_hosts_size() + all.clusters_size(), 5);

  // The shared part changes one route and drops a host: only those move.
  auto next = ProxyContent::withShared(ProxyContent::share(outbound({"a"}, "/x")), own(15001));
  const auto delta = next->message(base.get(), 1, 2);
  EXPECT_EQ(delta->push().base_version(), 1u);
  EXPECT_EQ(delta->push().content_hash(), next->hash());
  EXPECT_EQ(names(delta->push()),
            (std::set<std::string>{"L 0.0.0.0_80", "V a:80", "-V 0.0.0.0_80/b:80"}));

  // The same shared part, another own part: only the own resource moves.
  auto moved = ProxyContent::withShared(v1_shared, own(15002));
  EXPECT_EQ(names(moved->message(base.get(), 1, 2)->push()),
            (std::set<std::string>{"L virtualOutbound"}));
  // Nothing changed: an empty delta.
  EXPECT_TRUE(
      names(ProxyContent::withShared(v1_shared, own(15001))->message(base.get(), 1, 2)->push())
          .empty());
}

// A sidecar's own part whose inbound listener uses `table`.
tr::Snapshot ownWithPeers(std::shared_ptr<const tr::PeerWorkloads> table) {
  tr::Snapshot s = own(15001);
  tr::Listener in;
  in.name = "virtualInbound";
  in.bind_address = "127.0.0.1";
  in.port = 15006;
  in.protocol = "TCP";
  in.kind = tr::ListenerKind::kInbound;
  in.routes = std::make_shared<const tr::RouteTable>();
  in.peer_workloads = std::move(table);
  s.listeners.push_back(in);
  return s;
}

std::shared_ptr<const tr::PeerWorkloads> peers(int n, const std::string& version = "v1") {
  auto table = std::make_shared<tr::PeerWorkloads>();
  for (int i = 0; i < n; ++i) {
    const std::string name = "w" + std::to_string(100 + i);
    table->push_back({"ns", name, name, name, version, version});
  }
  return table;
}

// The peer table is a part of its own: sent whole once, then as the rows that changed; the
// listener that uses it carries none of it.
TEST(SharedProxyContent, ThePeerTableIsSentOnceAndMovesByRows) {
  auto outbound_part = ProxyContent::share(outbound({"a"}));
  auto table = peers(3);
  auto part = ProxyContent::sharePeers(*table);
  auto base = ProxyContent::withShared(outbound_part, ownWithPeers(table), part);
  const auto whole_message = base->message(nullptr, 0, 1);
  const v1::SnapshotPush& whole = whole_message->push();
  EXPECT_EQ(whole.resources().peer_workloads_size(), 3);
  for (const auto& l : whole.resources().listeners()) {
    EXPECT_EQ(l.peer_workloads_size(), 0) << l.name();
    EXPECT_EQ(l.shares_peer_workloads(), l.name() == "virtualInbound") << l.name();
  }
  EXPECT_EQ(base->resources().peer_workloads_size(), 3);  // proxy-config shows it

  // One row changed and one added: those two rows, and no listener.
  auto next_table = std::make_shared<tr::PeerWorkloads>(*peers(4));
  (*next_table)[1].version = "v2";
  auto next = ProxyContent::withShared(outbound_part, ownWithPeers(next_table),
                                       ProxyContent::sharePeers(*next_table));
  EXPECT_NE(next->hash(), base->hash());
  const auto delta_message = next->message(base.get(), 1, 2);
  const v1::SnapshotPush& delta = delta_message->push();
  EXPECT_EQ(delta.resources().listeners_size(), 0);
  ASSERT_EQ(delta.resources().peer_workloads_size(), 2);
  EXPECT_EQ(delta.resources().peer_workloads(0).service_account(), "w101");
  EXPECT_EQ(delta.resources().peer_workloads(1).service_account(), "w103");

  // A row gone: its key removed.
  auto fewer = ProxyContent::withShared(outbound_part, ownWithPeers(peers(2)),
                                        ProxyContent::sharePeers(*peers(2)));
  const auto removal_message = fewer->message(base.get(), 1, 2);
  const v1::SnapshotPush& removal = removal_message->push();
  EXPECT_EQ(removal.resources().peer_workloads_size(), 0);
  ASSERT_EQ(removal.removed_peer_workloads_size(), 1);
  EXPECT_EQ(removal.removed_peer_workloads(0), "ns/w102");

  // A sidecar that stops using the table is told to drop its rows.
  auto none = ProxyContent::withShared(outbound_part, own(15001), part);
  EXPECT_EQ(none->message(base.get(), 1, 2)->push().removed_peer_workloads_size(), 3);
  // Same table, same content: the same hash, an empty delta.
  auto same = ProxyContent::withShared(outbound_part, ownWithPeers(table),
                                       ProxyContent::sharePeers(*table));
  EXPECT_EQ(same->hash(), base->hash());
  EXPECT_EQ(same->message(base.get(), 1, 2)->push().resources().peer_workloads_size(), 0);
}

}  // namespace
}  // namespace halyard::control
