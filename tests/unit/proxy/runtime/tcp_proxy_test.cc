// Route matching of the TCP proxy: destination subnets (IPv4, IPv6, v4-mapped, bad CIDRs), SNI
// hosts, and first match wins; for a CONNECT tunnel, only the target host's routes, tls routes
// only for TLS, subnets of a tunnel to a host name by its addresses; the caller's workload from
// the inbound listener's table; whether a snapshot makes connections detect silent clients.
#include "proxy/runtime/tcp_proxy.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <memory>

#include "proxy/runtime/worker_snapshot.h"
#include "proxy/upstream/connection_pool.h"

namespace halyard::proxy::runtime {
namespace {

namespace tr = halyard::translate;

asio::ip::address ip(const char* text) {
  return asio::ip::make_address(text);
}

tr::TcpRoute route(std::string origin, std::vector<tr::TcpRouteMatch> matches) {
  tr::TcpRoute r;
  r.origin = std::move(origin);
  r.matches = std::move(matches);
  return r;
}

TEST(TcpProxyTest, SubnetsCompareTheNetworkPart) {
  EXPECT_TRUE(inSubnet(ip("10.1.2.3"), "10.0.0.0/8"));
  EXPECT_FALSE(inSubnet(ip("11.1.2.3"), "10.0.0.0/8"));
  EXPECT_TRUE(inSubnet(ip("10.1.2.3"), "10.1.2.3"));
  EXPECT_FALSE(inSubnet(ip("10.1.2.4"), "10.1.2.3"));
  EXPECT_TRUE(inSubnet(ip("0.0.0.1"), "0.0.0.0/0"));
  EXPECT_TRUE(inSubnet(ip("::ffff:10.1.2.3"), "10.0.0.0/8"));
  EXPECT_TRUE(inSubnet(ip("fd00::1"), "fd00::/8"));
  EXPECT_FALSE(inSubnet(ip("fe80::1"), "fd00::/8"));
  EXPECT_FALSE(inSubnet(ip("10.1.2.3"), "fd00::/8"));
  EXPECT_FALSE(inSubnet(ip("10.1.2.3"), "10.0.0.0/33"));
  EXPECT_FALSE(inSubnet(ip("10.1.2.3"), "10.0.0.0/x"));
  EXPECT_FALSE(inSubnet(ip("10.1.2.3"), "not-an-ip/8"));
}

TEST(TcpProxyTest, TheFirstRouteWithAMatchingBlockWins) {
  std::vector<tr::TcpRoute> routes;
  routes.push_back(route("subnet", {tr::TcpRouteMatch{{"192.168.0.0/16"}, {}}}));
  routes.push_back(route(
      "sni", {tr::TcpRouteMatch{{}, {"a.example.com"}}, tr::TcpRouteMatch{{}, {"*.example.org"}}}));
  routes.push_back(route("both", {tr::TcpRouteMatch{{"10.0.0.0/8"}, {"*"}}}));
  const std::optional<std::string> none;
  EXPECT_EQ(matchTcpRoute(routes, ip("192.168.1.1"), none)->origin, "subnet");
  EXPECT_EQ(matchTcpRoute(routes, ip("192.168.1.1"), "a.example.com")->origin, "subnet");
  EXPECT_EQ(matchTcpRoute(routes, ip("127.0.0.1"), "a.example.com")->origin, "sni");
  EXPECT_EQ(matchTcpRoute(routes, ip("127.0.0.1"), "x.y.example.org")->origin, "sni");
  EXPECT_EQ(matchTcpRoute(routes, ip("10.0.0.1"), none)->origin, "both");  // "*": even no SNI
  EXPECT_EQ(matchTcpRoute(routes, ip("127.0.0.1"), "b.example.com"), nullptr);
  routes.push_back(route("catch-all", {}));
  EXPECT_EQ(matchTcpRoute(routes, ip("127.0.0.1"), "b.example.com")->origin, "catch-all");
}

tr::TcpRoute hostRoute(std::string origin, std::vector<std::string> hosts,
                       std::vector<tr::TcpRouteMatch> matches = {}) {
  tr::TcpRoute r = route(std::move(origin), std::move(matches));
  r.hosts = std::move(hosts);
  return r;
}

TEST(TcpProxyTest, ATunnelTakesItsHostsRoutesAndTlsRoutesOnlyForTls) {
  std::vector<tr::TcpRoute> routes;
  routes.push_back(hostRoute("web tls", {"web", "web:8443"},
                             {tr::TcpRouteMatch{{}, {"*"}}}));  // "*" would take no SNI too
  routes.push_back(hostRoute("web subnet", {"web"}, {tr::TcpRouteMatch{{"10.0.0.0/8"}, {}}}));
  routes.push_back(hostRoute("web default", {"web"}));
  routes.push_back(hostRoute("wild", {"*.example.com"}));
  TcpTarget plain{"web", std::nullopt, false, std::nullopt};
  EXPECT_EQ(matchTcpRoute(routes, plain)->origin, "web default");  // no address: no subnet
  plain.destination = ip("10.1.1.1");
  EXPECT_EQ(matchTcpRoute(routes, plain)->origin, "web subnet");
  TcpTarget tls{"web", std::nullopt, true, std::string("web.example.com")};
  EXPECT_EQ(matchTcpRoute(routes, tls)->origin, "web tls");
  TcpTarget other{"db.example.com", std::nullopt, false, std::nullopt};
  EXPECT_EQ(matchTcpRoute(routes, other)->origin, "wild");
  TcpTarget none{"db", std::nullopt, true, std::nullopt};
  EXPECT_EQ(matchTcpRoute(routes, none), nullptr);
  EXPECT_TRUE(hasTcpRouteFor(routes, "web", true));
  EXPECT_FALSE(hasTcpRouteFor(routes, "a.example.com", true));
  EXPECT_TRUE(hasTcpRouteFor(routes, "a.example.com", false));
  EXPECT_FALSE(hasTcpRouteFor(routes, "db", false));
}

// A tunnel to a host name: destinationSubnets hold when an address the host stands for (its VIP,
// else its endpoints: TcpRoute::host_addresses) is in one; an IP target is compared itself.
TEST(TcpProxyTest, ATunnelToAHostNameMatchesSubnetsByTheHostsAddresses) {
  std::vector<tr::TcpRoute> routes;
  routes.push_back(hostRoute("db subnet", {"db"}, {tr::TcpRouteMatch{{"10.96.0.0/16"}, {}}}));
  routes.back().host_addresses = {"not an address", "10.96.3.4"};
  routes.push_back(hostRoute("db default", {"db"}));
  routes.push_back(hostRoute("far subnet", {"far"}, {tr::TcpRouteMatch{{"10.96.0.0/16"}, {}}}));
  routes.back().host_addresses = {"10.200.0.1", "fd00::1"};
  routes.push_back(hostRoute("far default", {"far"}));
  EXPECT_EQ(matchTcpRoute(routes, TcpTarget{"db", std::nullopt, false, std::nullopt})->origin,
            "db subnet");
  EXPECT_EQ(matchTcpRoute(routes, TcpTarget{"far", std::nullopt, false, std::nullopt})->origin,
            "far default");
  // The CONNECT named an address: that one decides, not the host's.
  EXPECT_EQ(matchTcpRoute(routes, TcpTarget{"db", ip("192.0.2.1"), false, std::nullopt})->origin,
            "db default");
  // A gateway's connection (no target): its local address only.
  EXPECT_EQ(matchTcpRoute(routes, ip("10.96.0.9"), std::nullopt)->origin, "db subnet");
}

// The inbound listener's table names the caller's workload when its certificate's namespace and
// service account are one workload's; otherwise the peer keeps what it had (unknown).
TEST(TcpProxyTest, ThePeersWorkloadComesFromTheListenersTable) {
  tr::Listener inbound;
  inbound.kind = tr::ListenerKind::kInbound;
  telemetry::PeerIdentity peer;
  peer.namespace_ = "default";
  peer.service_account = "client";
  fillPeerWorkload(inbound, peer);  // no table: nothing known
  EXPECT_TRUE(peer.workload.empty());
  inbound.peer_workloads = std::make_shared<const tr::PeerWorkloads>(
      tr::PeerWorkloads{{"default", "client", "client-1", "client", "v2"},
                        {"default", "web", "web-1", "web", "unknown"}});
  fillPeerWorkload(inbound, peer);
  EXPECT_EQ(peer.workload, "client-1");
  EXPECT_EQ(peer.app, "client");
  EXPECT_EQ(peer.version, "v2");
  telemetry::PeerIdentity stranger;
  stranger.namespace_ = "other";
  stranger.service_account = "client";
  fillPeerWorkload(inbound, stranger);
  EXPECT_TRUE(stranger.workload.empty());
  EXPECT_TRUE(stranger.app.empty());
}

}  // namespace
}  // namespace halyard::proxy::runtime

namespace halyard::proxy::runtime {
namespace {

// Whether a connection does any protocol-detection work is decided once per snapshot: only a
// listener with a protocol detection timeout makes connections wait for a silent client.
TEST(WorkerSnapshotTest, KnowsOncePerSnapshotWhetherAnyListenerDetectsSilentClients) {
  asio::io_context io;
  upstream::ConnectionPool pool(io.get_executor(), upstream::PoolOptions{});
  auto snapshot = std::make_shared<translate::Snapshot>();
  translate::Listener inbound;
  inbound.name = "virtualInbound";
  inbound.kind = translate::ListenerKind::kInbound;
  translate::Listener outbound = inbound;
  outbound.name = "virtualOutbound";
  outbound.kind = translate::ListenerKind::kOutboundProxy;
  snapshot->listeners = {inbound, outbound};
  EXPECT_FALSE(
      WorkerSnapshot(snapshot, nullptr, pool, io.get_executor(), 1).detectsSilentClients());

  // The outbound listener's timeout counts too (a CONNECT tunnel to an undeclared port waits).
  auto timed = std::make_shared<translate::Snapshot>(*snapshot);
  timed->listeners[1].protocol_detection_timeout = translate::Millis(100);
  EXPECT_TRUE(WorkerSnapshot(timed, nullptr, pool, io.get_executor(), 2).detectsSilentClients());
}

}  // namespace
}  // namespace halyard::proxy::runtime
