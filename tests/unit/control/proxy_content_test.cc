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

}  // namespace
}  // namespace halyard::control
