// Gateway selection, listeners, virtual hosts and the order of routes across VirtualServices
// (istio-semantics.md §1.1, §2).
#include <gtest/gtest.h>

#include <map>

#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

constexpr std::string_view kGateway = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*/*.example.com"]
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
)";

std::string withGateway(std::string_view rest) {
  return std::string(kGateway) + "---\n" + std::string(rest);
}

std::vector<std::string> routeOrigins(const VirtualHost& v) {
  std::vector<std::string> out;
  for (const auto& r : v.routes) out.push_back(r.origin);
  return out;
}

TEST(GatewayTest, GatewaysNotSelectingTheProxyAreIgnored) {
  TranslateResult r = translateYaml(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: default}
spec:
  selector: {app: somebody-else}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: all, namespace: default}
spec:
  servers:
  - port: {number: 9090, name: http, protocol: HTTP}
    hosts: ["*"]
    bind: 127.0.0.1
)");
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.listeners.size(), 1u);  // a nil selector applies to every proxy
  EXPECT_EQ(s.listeners[0].port, 9090);
  EXPECT_EQ(s.listeners[0].bind_address, "127.0.0.1");
  EXPECT_EQ(s.listeners[0].name, "127.0.0.1_9090");
  EXPECT_TRUE(s.listeners[0].routes->virtual_hosts.empty());  // no VirtualService: 404 NR
}

TEST(GatewayTest, TcpAndPassthroughServersBecomeTcpListeners) {
  TranslateResult r = translateYaml(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 27017, name: mongo, protocol: MONGO}
    hosts: ["*"]
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 15443, name: tls, protocol: TLS}
    hosts: ["*"]
    tls: {mode: AUTO_PASSTHROUGH}
)");
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.listeners.size(), 5u);
  std::map<uint16_t, std::string> protocols;
  for (const auto& l : s.listeners) protocols[l.port] = l.protocol;
  EXPECT_EQ(protocols[443], "TLS");  // not terminated: routed by SNI
  EXPECT_EQ(protocols[31400], "TCP");
  EXPECT_EQ(protocols[27017], "TCP");
  EXPECT_EQ(protocols[80], "HTTP");
  EXPECT_EQ(protocols[15443], "TLS");  // AUTO_PASSTHROUGH: by Istio's SNI
  EXPECT_TRUE(s.warnings.empty());
}

TEST(GatewayTest, RoutesOfSeveralVirtualServicesConcatenateOldestFirst) {
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b-newer, namespace: default, creationTimestamp: "2024-05-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /newer}}]
    route: [{destination: {host: svc}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: z-older, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /older}}]
    route: [{destination: {host: svc}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: istio-system, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  exportTo: ["."]
  http:
  - match: [{uri: {prefix: /private}}]
    route: [{destination: {host: svc.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exported, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  exportTo: [istio-system]
  http:
  - match: [{uri: {prefix: /exported}}]
    route: [{destination: {host: svc}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hidden, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  exportTo: ["."]
  http:
  - match: [{uri: {prefix: /hidden}}]
    route: [{destination: {host: svc}}]
)"));
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v = vhostFor(s, 80, "a.example.com");
  ASSERT_NE(v, nullptr);
  // Private to the gateway proxy's namespace, then exported to it, then public (oldest
  // first); the VirtualService private to "default" is not visible to the gateway.
  EXPECT_EQ(routeOrigins(*v),
            (std::vector<std::string>{"istio-system/private http[0]", "default/exported http[0]",
                                      "default/z-older http[0]", "default/b-newer http[0]"}));
}

// Equal creation times fall back to the name (Istio's configCompareByCreationTime), whatever
// order the files list them in.
TEST(GatewayTest, VirtualServicesCreatedTogetherMergeByName) {
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: zeta, namespace: default, creationTimestamp: "2024-03-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /tie}}]
    route: [{destination: {host: svc}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alpha, namespace: default, creationTimestamp: "2024-03-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /tie}}]
    route: [{destination: {host: svc}}]
)"));
  const VirtualHost* v = vhostFor(snapshotOf(r), 80, "a.example.com");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(routeOrigins(*v),
            (std::vector<std::string>{"default/alpha http[0]", "default/zeta http[0]"}));
}

TEST(GatewayTest, CatchAllRoutesMoveLastAndEndTheirVirtualService) {
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /one}}]
    route: [{destination: {host: svc}}]
  - route: [{destination: {host: svc}}]
  - match: [{uri: {prefix: /unreachable}}]
    route: [{destination: {host: svc}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second, namespace: default, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{uri: {prefix: /two}, headers: {x-a: {exact: "1"}}}, {uri: {regex: ".*"}}]
    route: [{destination: {host: svc}}]
  - match: [{uri: {prefix: /never}}]
    route: [{destination: {host: svc}}]
)"));
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v = vhostFor(s, 80, "a.example.com");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(routeOrigins(*v),
            (std::vector<std::string>{"default/first http[0]", "default/second http[0] match[0]",
                                      "default/first http[1]", "default/second http[0] match[1]"}));
  // The router sees /two with the header before the first VirtualService's catch-all.
  Request req;
  req.authority = "a.example.com";
  req.path = "/two";
  req.headers = {{"x-a", "1"}};
  const Route* route = routeFor(s, 80, req);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->origin, "default/second http[0] match[0]");
  req.headers.clear();
  EXPECT_EQ(routeFor(s, 80, req)->origin, "default/first http[1]");
}

TEST(GatewayTest, MatchPortSelectsTheServerPort) {
  TranslateResult r = translateYaml(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["a.example.com"]
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: ["a.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /alt}, port: 8080}, {uri: {prefix: /main}, port: 80}]
    route: [{destination: {host: svc, port: {number: 80}}}]
  - match: [{uri: {prefix: /any}}]
    route: [{destination: {host: svc, port: {number: 80}}}]
)");
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.listeners.size(), 2u);
  const VirtualHost* main = vhostFor(s, 80, "a.example.com");
  const VirtualHost* alt = vhostFor(s, 8080, "a.example.com");
  ASSERT_NE(main, nullptr);
  ASSERT_NE(alt, nullptr);
  ASSERT_EQ(main->routes.size(), 2u);
  EXPECT_EQ(main->routes[0].match.uri->value, "/main");
  EXPECT_EQ(main->routes[1].match.uri->value, "/any");
  ASSERT_EQ(alt->routes.size(), 2u);
  EXPECT_EQ(alt->routes[0].match.uri->value, "/alt");
  EXPECT_EQ(alt->name, "a.example.com:8080");
}

TEST(GatewayTest, HostIntersectionAndNamespaceAdmission) {
  TranslateResult r = translateYaml(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop/*.shop.com", "./edge.example.com", "api.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [www.shop.com, "*.example.com"]
  gateways: [edge/gw]
  http:
  - route: [{destination: {host: svc.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: other, namespace: default}
spec:
  hosts: ["*.shop.com", EDGE.example.com]
  gateways: [edge/gw]
  http:
  - route: [{destination: {host: svc}}]
)");
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerOn(s, 80);
  ASSERT_NE(l, nullptr);
  std::vector<std::string> names;
  for (const auto& v : l->routes->virtual_hosts) names.push_back(v.name);
  // shop: www.shop.com (within shop/*.shop.com) and api.example.com (public server host within
  // *.example.com); edge.example.com admits only VirtualServices of namespace edge.
  // default: *.shop.com is admitted only for namespace shop; nothing else matches.
  EXPECT_EQ(names, (std::vector<std::string>{"api.example.com:80", "www.shop.com:80"}));
}

TEST(GatewayTest, HttpsRedirectMakesTlsRequiredHosts) {
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: redirect, namespace: default}
spec:
  servers:
  - port: {number: 8000, name: http, protocol: HTTP}
    hosts: ["secure.example.com", "bound.example.com"]
    tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [bound.example.com]
  gateways: [redirect]
  http:
  - route: [{destination: {host: svc}}]
)"));
  const Snapshot& s = snapshotOf(r);
  // Every server host gets a TLS-required virtual host, bound or not; the proxy redirects each
  // plaintext request to it before route matching, so no route is added for that.
  const VirtualHost* secure = vhostFor(s, 8000, "secure.example.com");
  ASSERT_NE(secure, nullptr);
  EXPECT_TRUE(secure->require_tls);
  EXPECT_TRUE(secure->routes.empty());
  const VirtualHost* bound = vhostFor(s, 8000, "bound.example.com");
  ASSERT_NE(bound, nullptr);
  EXPECT_TRUE(bound->require_tls);
  ASSERT_EQ(bound->routes.size(), 1u);
  EXPECT_EQ(bound->routes[0].origin, "default/vs http[0]");
  // Without httpsRedirect a server host with no VirtualService gets no virtual host.
  EXPECT_TRUE(listenerOn(s, 80)->routes->virtual_hosts.empty());
}

TEST(GatewayTest, HttpsRedirectOnAWildcardServerHost) {
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: redirect-all, namespace: default}
spec:
  servers:
  - port: {number: 8000, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
)"));
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* all = vhostFor(s, 8000, "*");
  ASSERT_NE(all, nullptr);
  EXPECT_TRUE(all->require_tls);
  EXPECT_TRUE(all->routes.empty());
}

TEST(GatewayTest, PerMatchGatewaysAndSourceSelectors) {
  ProxyIdentity proxy;
  proxy.labels = {{"istio", "ingressgateway"}, {"zone", "a"}};
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw, mesh]
  http:
  - match: [{uri: {prefix: /mesh-only}, gateways: [mesh]}]
    route: [{destination: {host: svc}}]
  - match: [{uri: {prefix: /gw}, gateways: [istio-system/gw], sourceLabels: {app: nobody}}]
    route: [{destination: {host: svc}}]
  - match: [{uri: {prefix: /zone-a}, sourceLabels: {zone: a}}]
    route: [{destination: {host: svc}}]
  - match: [{uri: {prefix: /zone-b}, sourceLabels: {zone: b}}]
    route: [{destination: {host: svc}}]
  - match: [{uri: {prefix: /other-ns}, sourceNamespace: default}]
    route: [{destination: {host: svc}}]
  - match: [{uri: {prefix: /this-ns}, sourceNamespace: istio-system}]
    route: [{destination: {host: svc}}]
)"),
                                    proxy);
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v = vhostFor(s, 80, "a.example.com");
  ASSERT_NE(v, nullptr);
  std::vector<std::string> prefixes;
  for (const auto& route : v->routes) prefixes.push_back(route.match.uri->value);
  // Per-match gateways decide alone (sourceLabels are then not checked).
  EXPECT_EQ(prefixes, (std::vector<std::string>{"/gw", "/zone-a", "/this-ns"}));
}

TEST(GatewayTest, VirtualServiceWithoutGatewaysBindsOnlyToMesh) {
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a.example.com]
  http:
  - route: [{destination: {host: svc}}]
)"));
  EXPECT_TRUE(listenerOn(snapshotOf(r), 80)->routes->virtual_hosts.empty());
}

TEST(GatewayTest, DelegateRoutesMergeUnderTheRootMatch) {
  TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - name: shop
    match: [{uri: {prefix: /shop}}]
    timeout: 3s
    delegate: {name: shop-routes, namespace: shop}
  - name: missing
    match: [{uri: {prefix: /missing}}]
    delegate: {name: nothing}
  - match: [{uri: {prefix: /plain}}]
    route: [{destination: {host: svc}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-routes, namespace: shop}
spec:
  http:
  - name: cart
    match: [{uri: {prefix: /shop/cart}, name: m}]
    route: [{destination: {host: cart}}]
  - name: outside
    match: [{uri: {prefix: /elsewhere}}]
    route: [{destination: {host: cart}}]
  - name: rest
    timeout: 1s
    route: [{destination: {host: svc.default.svc.cluster.local}}]
)"));
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v = vhostFor(s, 80, "a.example.com");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->routes.size(), 3u);
  const Route& cart = v->routes[0];
  EXPECT_EQ(cart.name, "shop-cart.m");
  EXPECT_EQ(cart.match.uri->value, "/shop/cart");
  EXPECT_EQ(cart.origin, "default/root http[0] via shop/shop-routes http[0]");
  // Short names in a delegate resolve in the delegate's namespace; the root's timeout applies
  // where the delegate sets none.
  EXPECT_EQ(forward(cart)->clusters[0].cluster, "outbound|80||cart.shop.svc.cluster.local");
  EXPECT_EQ(forward(cart)->timeout, Millis(3000));
  const Route& rest = v->routes[1];
  EXPECT_EQ(rest.name, "shop-rest");
  EXPECT_EQ(rest.match.uri->value, "/shop");  // the root match
  EXPECT_EQ(forward(rest)->timeout, Millis(1000));
  EXPECT_EQ(v->routes[2].match.uri->value, "/plain");
  EXPECT_TRUE(hasWarning(r, "does not fall within the match of its root"));
  EXPECT_TRUE(hasWarning(r, "delegate VirtualService default/nothing not found"));
}

}  // namespace
}  // namespace halyard::translate
