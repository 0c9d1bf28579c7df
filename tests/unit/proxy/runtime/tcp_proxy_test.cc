// Route matching of the TCP proxy: destination subnets (IPv4, IPv6, v4-mapped, bad CIDRs), SNI
// hosts, and first match wins; for a CONNECT tunnel, only the target host's routes, tls routes
// only for TLS.
#include "proxy/runtime/tcp_proxy.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace halyard::proxy::runtime
