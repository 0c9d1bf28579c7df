// VirtualService tcp and tls routes on gateway TCP and TLS passthrough servers
// (istio-semantics.md §1.10, §2): config-time selection of match blocks, order, weights, SNI
// hosts within the server hosts, and the clusters behind the destinations.
#include <gtest/gtest.h>

#include "translate/tcp_route_builder.h"
#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

constexpr std::string_view kServices = R"(
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  ports: [{name: tcp-db, port: 5432, targetPort: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: https, port: 443, targetPort: 8443}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: default}
spec:
  host: db
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
---
)";

std::string with(std::string_view rest) {
  return std::string(kServices) + std::string(rest);
}

TEST(TcpRoutesTest, TcpRoutesKeepOrderSelectByPortAndGatewayAndSplitByWeight) {
  TranslateResult r = translateYaml(with(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  tcp:
  - match: [{port: 9999}]
    route: [{destination: {host: db}}]
  - match: [{gateways: [other/gw]}]
    route: [{destination: {host: db}}]
  - match: [{sourceLabels: {app: nope}}]
    route: [{destination: {host: db}}]
  - match: [{port: 31400, destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: db, subset: v1}}]
  - route:
    - {destination: {host: db, subset: v1}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
  - route: [{destination: {host: db}}]
)"));
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerOn(s, 31400);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->protocol, "TCP");
  ASSERT_EQ(l->tcp_routes.size(), 2u);  // nothing after the catch-all
  EXPECT_EQ(l->tcp_routes[0].origin, "default/db tcp[3]");
  ASSERT_EQ(l->tcp_routes[0].matches.size(), 1u);
  EXPECT_EQ(l->tcp_routes[0].matches[0].destination_subnets,
            std::vector<std::string>{"10.0.0.0/8"});
  const TcpRoute& split = l->tcp_routes[1];
  EXPECT_TRUE(split.matches.empty());
  ASSERT_EQ(split.clusters.size(), 2u);
  EXPECT_EQ(split.clusters[0].cluster, "outbound|5432|v1|db.default.svc.cluster.local");
  EXPECT_EQ(split.clusters[0].weight, 80u);
  EXPECT_EQ(split.clusters[1].cluster, "outbound|5432|v2|db.default.svc.cluster.local");
  EXPECT_EQ(split.total_weight, 100u);
  EXPECT_TRUE(s.clusters.contains("outbound|5432|v2|db.default.svc.cluster.local"));
  // The TLS server has no tls routes bound: it closes every connection.
  ASSERT_NE(listenerOn(s, 443), nullptr);
  EXPECT_TRUE(listenerOn(s, 443)->tcp_routes.empty());
}

TEST(TcpRoutesTest, TlsRoutesKeepSniHostsWithinTheServerHosts) {
  TranslateResult r = translateYaml(with(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: ["*.example.com", "web.other.org"]
  gateways: [istio-system/gw]
  tls:
  - match: [{port: 443, sniHosts: [a.example.com, web.other.org]}]
    route: [{destination: {host: web}}]
  - match: [{sniHosts: [web.other.org]}]
    route: [{destination: {host: db}}]
  - match: [{port: 8443, sniHosts: [b.example.com]}]
    route: [{destination: {host: db}}]
  - match: [{sniHosts: ["*"]}]
    route: [{destination: {host: web, port: {number: 443}}}]
)"));
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerOn(s, 443);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->protocol, "TLS");
  EXPECT_TRUE(l->tls.empty());  // not terminated
  ASSERT_EQ(l->tcp_routes.size(), 2u);
  EXPECT_EQ(l->tcp_routes[0].matches[0].sni_hosts, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(l->tcp_routes[0].clusters[0].cluster, "outbound|443||web.default.svc.cluster.local");
  // "*" narrowed to the server's "*.example.com".
  EXPECT_EQ(l->tcp_routes[1].matches[0].sni_hosts, std::vector<std::string>{"*.example.com"});
  EXPECT_EQ(l->tcp_routes[1].origin, "default/web tls[3]");
}

TEST(TcpRoutesTest, VirtualServicesNotBoundToTheServerAddNothing) {
  TranslateResult r = translateYaml(with(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: elsewhere, namespace: default}
spec:
  hosts: ["*.example.org"]
  gateways: [istio-system/gw]
  tls:
  - match: [{sniHosts: [a.example.org]}]
    route: [{destination: {host: web}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-only, namespace: default}
spec:
  hosts: [db]
  tcp:
  - route: [{destination: {host: db}}]
)"));
  const Snapshot& s = snapshotOf(r);
  EXPECT_TRUE(listenerOn(s, 443)->tcp_routes.empty());
  EXPECT_TRUE(listenerOn(s, 31400)->tcp_routes.empty());
}

TEST(TcpRoutesTest, SniMatching) {
  EXPECT_TRUE(sniMatches("a.example.com", "a.example.com"));
  EXPECT_FALSE(sniMatches("a.example.com", "b.example.com"));
  EXPECT_TRUE(sniMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(sniMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(sniMatches("*.example.com", "example.com"));
  EXPECT_FALSE(sniMatches("*.example.com", ""));
  EXPECT_TRUE(sniMatches("*", ""));
  EXPECT_TRUE(sniMatches("*", "anything"));
}

// An AUTO_PASSTHROUGH server routes Istio's SNI "outbound_.<port>_.<subset>_.<host>" of every
// service within its hosts to that cluster, without TLS origination (the caller's mutual TLS
// passes through) and without VirtualServices.
TEST(TcpRoutesTest, AutoPassthroughRoutesIstiosSniToTheClusterItNames) {
  TranslateResult r = translateYaml(with(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: cross-network, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 15443, name: tls, protocol: TLS}
    hosts: ["*.svc.cluster.local"]
    tls: {mode: AUTO_PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external, namespace: default}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
)"));
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerOn(s, 15443);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->protocol, "TLS");
  std::vector<std::string> snis;
  for (const auto& route : l->tcp_routes) {
    ASSERT_EQ(route.matches.size(), 1u);
    ASSERT_EQ(route.clusters.size(), 1u);
    EXPECT_EQ(route.matches[0].sni_hosts.at(0), route.clusters[0].cluster);
    EXPECT_EQ(route.origin, "istio-system/cross-network servers[0] AUTO_PASSTHROUGH");
    snis.push_back(route.matches[0].sni_hosts.at(0));
  }
  // db (no subsets, v1, v2) and web; not api.example.com, outside the server's hosts.
  EXPECT_EQ(snis, (std::vector<std::string>{"outbound_.5432_._.db.default.svc.cluster.local",
                                            "outbound_.5432_.v1_.db.default.svc.cluster.local",
                                            "outbound_.5432_.v2_.db.default.svc.cluster.local",
                                            "outbound_.443_._.web.default.svc.cluster.local"}));
  const Cluster& v1 = s.clusters.at("outbound_.5432_.v1_.db.default.svc.cluster.local");
  EXPECT_FALSE(v1.tls.has_value());
  EXPECT_EQ(v1.subset, "v1");
  EXPECT_EQ(v1.port, 5432);
  EXPECT_TRUE(s.warnings.empty());
}

}  // namespace
}  // namespace halyard::translate
