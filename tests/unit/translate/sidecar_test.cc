// The sidecar role: inbound and outbound listeners, per-port route tables with their domains,
// service visibility, mesh VirtualServices and DestinationRule subsets on the outbound side,
// the inbound-port annotation, and the outbound and own parts a control plane translates apart
// (snapshot.h ListenerKind; istio-semantics.md §0.2, §0.3, §1.1).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

ProxyIdentity sidecar(std::string ns = "default",
                      std::map<std::string, std::string> labels = {{"app", "client"}}) {
  ProxyIdentity p;
  p.role = "sidecar";
  p.namespace_ = std::move(ns);
  p.labels = std::move(labels);
  p.name = "client-1";
  p.address = "10.1.0.5";
  p.inbound_port = 15006;
  p.outbound_port = 15001;
  return p;
}

const Listener* listenerNamed(const Snapshot& s, std::string_view name) {
  for (const auto& l : s.listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

const VirtualHost* vhostNamed(const Listener& l, std::string_view name) {
  for (const auto& v : l.routes->virtual_hosts) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

bool hasDomain(const VirtualHost& v, std::string_view d) {
  return std::find(v.domains.begin(), v.domains.end(), d) != v.domains.end();
}

std::vector<std::string> clustersOf(const Route& r) {
  std::vector<std::string> out;
  if (const ForwardAction* f = forward(r)) {
    for (const auto& c : f->clusters) out.push_back(c.cluster + "=" + std::to_string(c.weight));
  }
  return out;
}

std::vector<std::string> addresses(const Cluster& c) {
  std::vector<std::string> out;
  for (const auto& e : c.endpoints) out.push_back(e.address + ":" + std::to_string(e.port));
  return out;
}

constexpr std::string_view kServices = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 8080}, {name: tcp-db, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: other}
spec:
  selector: {app: ratings}
  ports: [{name: http-web, port: 9080}, {name: grpc, port: 9090}]
---
apiVersion: v1
kind: Service
metadata: {name: client, namespace: default}
spec:
  selector: {app: client}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: default}
spec: {address: 10.0.0.1, labels: {app: reviews, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v2, namespace: default}
spec: {address: 10.0.0.2, labels: {app: reviews, version: v2}}
)";

std::string withServices(std::string_view rest) {
  return std::string(kServices) + "---\n" + std::string(rest);
}

TEST(SidecarTest, InboundListenerForwardsToTheApp) {
  ProxyIdentity proxy = sidecar();
  proxy.app_port = 8080;
  TranslateResult r = translateYaml(kServices, proxy);
  const Snapshot& s = snapshotOf(r);

  const Listener* in = listenerNamed(s, "virtualInbound");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->kind, ListenerKind::kInbound);
  EXPECT_EQ(in->bind_address, "10.1.0.5");
  EXPECT_EQ(in->port, 15006);
  EXPECT_EQ(in->protocol, "HTTP");
  ASSERT_EQ(in->routes->virtual_hosts.size(), 1u);
  const VirtualHost& v = in->routes->virtual_hosts[0];
  EXPECT_EQ(v.name, "inbound|8080");
  EXPECT_EQ(v.domains, std::vector<std::string>{"*"});
  ASSERT_EQ(v.routes.size(), 1u);
  EXPECT_FALSE(v.routes[0].match.uri.has_value());
  EXPECT_EQ(clustersOf(v.routes[0]), std::vector<std::string>{"inbound|8080||=1"});
  const ForwardAction* f = forward(v.routes[0]);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->timeout.has_value());
  EXPECT_EQ(f->retry.attempts, 0u);

  ASSERT_EQ(s.clusters.count("inbound|8080||"), 1u);
  const Cluster& c = s.clusters.at("inbound|8080||");
  EXPECT_EQ(addresses(c), std::vector<std::string>{"127.0.0.1:8080"});
  EXPECT_EQ(c.endpoints[0].workload, "client-1");
  EXPECT_EQ(c.endpoints[0].namespace_, "default");
  EXPECT_EQ(c.endpoints[0].labels, proxy.labels);
  EXPECT_EQ(c.lb, LbPolicy::kRoundRobin);
  EXPECT_EQ(c.service_host, "client.default.svc.cluster.local");
  EXPECT_EQ(c.service_name, "client");
  EXPECT_EQ(c.service_namespace, "default");
}

TEST(SidecarTest, NoAppPortNoInboundListener) {
  TranslateResult r = translateYaml(kServices, sidecar());
  const Snapshot& s = snapshotOf(r);
  EXPECT_EQ(listenerNamed(s, "virtualInbound"), nullptr);
  for (const auto& [name, c] : s.clusters) EXPECT_FALSE(name.starts_with("inbound|")) << name;
}

TEST(SidecarTest, InboundClusterWithoutSelectingServiceHasNoService) {
  ProxyIdentity proxy = sidecar("default", {{"app", "lonely"}});
  proxy.app_port = 7000;
  TranslateResult r = translateYaml(kServices, proxy);
  const Cluster& c = snapshotOf(r).clusters.at("inbound|7000||");
  EXPECT_EQ(c.service_host, "");
  EXPECT_EQ(c.service_name, "");
}

TEST(SidecarTest, OutboundProxyListener) {
  TranslateResult r = translateYaml(kServices, sidecar());
  const Listener* out = listenerNamed(snapshotOf(r), "virtualOutbound");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->kind, ListenerKind::kOutboundProxy);
  EXPECT_EQ(out->bind_address, "127.0.0.1");
  EXPECT_EQ(out->port, 15001);
  EXPECT_EQ(out->protocol, "HTTP");
  ASSERT_NE(out->routes, nullptr);
  EXPECT_TRUE(out->routes->virtual_hosts.empty());
}

TEST(SidecarTest, PortListenersAndDomains) {
  TranslateResult r = translateYaml(kServices, sidecar());
  const Snapshot& s = snapshotOf(r);
  // HTTP-like ports: 80 (unnamed), 9080 (http, http-web), 9090 (grpc); tcp-db 5432 gets a TCP
  // route table of its own, and so does the unnamed 80 (for TLS sniffed inside a tunnel).
  std::vector<std::string> names;
  for (const auto& l : s.listeners) {
    if (l.kind == ListenerKind::kOutboundPort) names.push_back(l.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"0.0.0.0_80", "0.0.0.0_9080", "0.0.0.0_9090",
                                             "0.0.0.0_80_tcp", "0.0.0.0_5432_tcp"}));
  const Listener* tcp = listenerNamed(s, "0.0.0.0_5432_tcp");
  ASSERT_NE(tcp, nullptr);
  EXPECT_EQ(tcp->protocol, "TCP");
  ASSERT_FALSE(tcp->tcp_routes.empty());
  EXPECT_TRUE(tcp->tcp_routes[0].matches.empty());
  EXPECT_EQ(tcp->tcp_routes[0].clusters.at(0).cluster.substr(0, 14), "outbound|5432|");
  EXPECT_FALSE(tcp->tcp_routes[0].hosts.empty());

  const Listener* l = listenerNamed(s, "0.0.0.0_9080");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->port, 9080);
  ASSERT_EQ(l->routes->virtual_hosts.size(), 2u);
  const VirtualHost* reviews = vhostNamed(*l, "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(reviews, nullptr);
  EXPECT_EQ(reviews->domains,
            (std::vector<std::string>{
                "reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local:9080",
                "reviews.default.svc", "reviews.default.svc:9080", "reviews.default",
                "reviews.default:9080", "reviews", "reviews:9080"}));
  const VirtualHost* ratings = vhostNamed(*l, "ratings.other.svc.cluster.local:9080");
  ASSERT_NE(ratings, nullptr);
  EXPECT_TRUE(hasDomain(*ratings, "ratings.other"));
  EXPECT_TRUE(hasDomain(*ratings, "ratings.other.svc:9080"));
  EXPECT_FALSE(hasDomain(*ratings, "ratings"));  // another namespace: no short name
  EXPECT_FALSE(hasDomain(*ratings, "ratings:9080"));

  // The router finds them by Host.
  Request req;
  req.authority = "reviews:9080";
  const Route* route = routeFor(s, 9080, req);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(clustersOf(*route),
            std::vector<std::string>{"outbound|9080||reviews.default.svc.cluster.local=1"});
}

TEST(SidecarTest, DefaultRouteHasMeshRetryPolicyAndNoTimeout) {
  TranslateResult r = translateYaml(kServices, sidecar());
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v =
      vhostNamed(*listenerNamed(s, "0.0.0.0_9090"), "ratings.other.svc.cluster.local:9090");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->routes.size(), 1u);
  EXPECT_FALSE(v->routes[0].match.uri.has_value());
  const ForwardAction* f = forward(v->routes[0]);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(clustersOf(v->routes[0]),
            std::vector<std::string>{"outbound|9090||ratings.other.svc.cluster.local=1"});
  EXPECT_FALSE(f->timeout.has_value());
  EXPECT_EQ(f->retry.attempts, 2u);
  EXPECT_EQ(f->retry.retry_on,
            static_cast<uint32_t>(kRetryConnectFailure | kRetryRefusedStream | kRetryUnavailable |
                                  kRetryCancelled | kRetryRetriableStatusCodes));
  EXPECT_TRUE(f->retry.retry_other_hosts);
  ASSERT_EQ(s.clusters.count("outbound|9090||ratings.other.svc.cluster.local"), 1u);
  EXPECT_EQ(s.clusters.at("outbound|9090||ratings.other.svc.cluster.local").port, 9090);
}

TEST(SidecarTest, ExportToDotHidesAnotherNamespacesServices) {
  TranslateResult r = translateYaml(R"(
apiVersion: v1
kind: Service
metadata:
  name: private
  namespace: other
  annotations: {networking.istio.io/exportTo: "."}
spec:
  ports: [{name: http, port: 8000}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: other}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 8000, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pub, namespace: other}
spec:
  hosts: ["*.wild.com"]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 8000, name: http, protocol: HTTP}, {number: 8443, name: tls, protocol: TLS}]
)",
                                    sidecar());
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerNamed(s, "0.0.0.0_8000");
  ASSERT_NE(l, nullptr);
  ASSERT_EQ(l->routes->virtual_hosts.size(), 1u);
  EXPECT_EQ(l->routes->virtual_hosts[0].domains,
            (std::vector<std::string>{"*.wild.com", "*.wild.com:8000"}));
  EXPECT_EQ(listenerNamed(s, "0.0.0.0_8443"), nullptr);

  // The same services are visible from their own namespace.
  TranslateResult own = translateYaml(R"(
apiVersion: v1
kind: Service
metadata:
  name: private
  namespace: other
  annotations: {networking.istio.io/exportTo: "."}
spec:
  ports: [{name: http, port: 8000}]
)",
                                      sidecar("other"));
  const Listener* lo = listenerNamed(snapshotOf(own), "0.0.0.0_8000");
  ASSERT_NE(lo, nullptr);
  ASSERT_EQ(lo->routes->virtual_hosts.size(), 1u);
  EXPECT_TRUE(hasDomain(lo->routes->virtual_hosts[0], "private"));
}

constexpr std::string_view kSubsets = R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
)";

TEST(SidecarTest, MeshVirtualServiceWeightsToSubsets) {
  TranslateResult r = translateYaml(withServices(std::string(kSubsets) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
)"),
                                    sidecar());
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v =
      vhostNamed(*listenerNamed(s, "0.0.0.0_9080"), "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->routes.size(), 1u);
  // A destination without a port on a multi-port service takes the listener port.
  EXPECT_EQ(clustersOf(v->routes[0]),
            (std::vector<std::string>{"outbound|9080|v1|reviews.default.svc.cluster.local=90",
                                      "outbound|9080|v2|reviews.default.svc.cluster.local=10"}));
  const Cluster& v1 = s.clusters.at("outbound|9080|v1|reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(v1), std::vector<std::string>{"10.0.0.1:8080"});
  EXPECT_EQ(v1.lb, LbPolicy::kRandom);
  const Cluster& v2 = s.clusters.at("outbound|9080|v2|reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(v2), std::vector<std::string>{"10.0.0.2:8080"});
  EXPECT_EQ(v2.lb, LbPolicy::kRoundRobin);
  // The service's TCP port has no listener at all.
  EXPECT_EQ(listenerNamed(s, "0.0.0.0_5432"), nullptr);
}

TEST(SidecarTest, GatewayOnlyVirtualServiceDoesNotApplyToSidecars) {
  const std::string gateway_only = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  gateways: [x]
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
)";
  TranslateResult r =
      translateYaml(withServices(std::string(kSubsets) + "---\n" + gateway_only), sidecar());
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v =
      vhostNamed(*listenerNamed(s, "0.0.0.0_9080"), "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->routes[0].name, "default");

  std::string with_mesh = gateway_only;
  with_mesh.replace(with_mesh.find("[x]"), 3, "[x, mesh]");
  TranslateResult m =
      translateYaml(withServices(std::string(kSubsets) + "---\n" + with_mesh), sidecar());
  const Snapshot& sm = snapshotOf(m);
  const VirtualHost* vm =
      vhostNamed(*listenerNamed(sm, "0.0.0.0_9080"), "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ(clustersOf(vm->routes[0]),
            std::vector<std::string>{"outbound|9080|v2|reviews.default.svc.cluster.local=1"});
}

TEST(SidecarTest, MatchSelectorsPickRoutesForThisSidecar) {
  TranslateResult r = translateYaml(withServices(std::string(kSubsets) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  gateways: [mesh, x]
  http:
  - match: [{sourceLabels: {app: somebody-else}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{sourceLabels: {app: client}, uri: {prefix: /a}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{sourceNamespace: other, uri: {prefix: /b}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{gateways: [x], uri: {prefix: /c}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{port: 9090, uri: {prefix: /d}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{gateways: [mesh], uri: {prefix: /e}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - route: [{destination: {host: reviews}}]
)"),
                                    sidecar());
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v =
      vhostNamed(*listenerNamed(s, "0.0.0.0_9080"), "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(v, nullptr);
  std::vector<std::string> origins;
  for (const auto& route : v->routes) origins.push_back(route.origin);
  EXPECT_EQ(origins, (std::vector<std::string>{"default/reviews http[1]", "default/reviews http[5]",
                                               "default/reviews http[6]"}));
  // A destination without a port on a multi-port service takes the listener port.
  EXPECT_EQ(clustersOf(v->routes[2]),
            std::vector<std::string>{"outbound|9080||reviews.default.svc.cluster.local=1"});
}

TEST(SidecarTest, FirstVirtualServiceForAHostWins) {
  TranslateResult r = translateYaml(withServices(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: public, namespace: other, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local, port: {number: 9080}}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  hosts: ["*.default.svc.cluster.local"]
  exportTo: ["."]
  http: [{route: [{destination: {host: client, port: {number: 80}}}]}]
)"),
                                    sidecar());
  const Snapshot& s = snapshotOf(r);
  // The private one comes first in selection order, though younger; its wildcard covers reviews.
  const VirtualHost* v =
      vhostNamed(*listenerNamed(s, "0.0.0.0_9080"), "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->routes.size(), 1u);
  EXPECT_EQ(v->routes[0].origin, "default/private http[0]");

  // From another namespace the private one is invisible: the public one applies.
  TranslateResult o = translateYaml(withServices(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: public, namespace: other, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local, port: {number: 9080}}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: default}
spec:
  hosts: ["*.default.svc.cluster.local"]
  exportTo: ["."]
  http: [{route: [{destination: {host: client, port: {number: 80}}}]}]
)"),
                                    sidecar("other", {{"app", "ratings"}}));
  const VirtualHost* vo = vhostNamed(*listenerNamed(snapshotOf(o), "0.0.0.0_9080"),
                                     "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(vo, nullptr);
  EXPECT_EQ(vo->routes[0].origin, "other/public http[0]");
}

TEST(SidecarTest, VirtualServiceHostsWithoutAServiceGetVirtualHosts) {
  TranslateResult r = translateYaml(withServices(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external, namespace: default}
spec:
  hosts: [api.external.com]
  http: [{directResponse: {status: 418}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alias, namespace: default}
spec:
  hosts: [reviews, reviews.alias.com]
  http: [{route: [{destination: {host: reviews}}]}]
)"),
                                    sidecar());
  const Snapshot& s = snapshotOf(r);
  // Naming no service at all: port 80.
  const VirtualHost* ext = vhostNamed(*listenerNamed(s, "0.0.0.0_80"), "api.external.com:80");
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->domains, (std::vector<std::string>{"api.external.com", "api.external.com:80"}));
  ASSERT_EQ(ext->routes.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<DirectResponseAction>(ext->routes[0].action));
  // Beside a service: that service's HTTP ports.
  const Listener* l9080 = listenerNamed(s, "0.0.0.0_9080");
  const VirtualHost* alias = vhostNamed(*l9080, "reviews.alias.com:9080");
  ASSERT_NE(alias, nullptr);
  EXPECT_EQ(clustersOf(alias->routes[0]),
            std::vector<std::string>{"outbound|9080||reviews.default.svc.cluster.local=1"});
  EXPECT_EQ(vhostNamed(*listenerNamed(s, "0.0.0.0_80"), "reviews.alias.com:80"), nullptr);
  EXPECT_EQ(vhostNamed(*l9080, "api.external.com:9080"), nullptr);
}

TEST(SidecarTest, InboundPortAnnotationOverridesEndpointPorts) {
  TranslateResult r = translateYaml(R"(
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: api-1
  namespace: default
  annotations: {halyard.dev/inbound-port: "15006"}
spec: {address: 10.0.0.1, labels: {app: api}, ports: {http: 9999}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: api-2
  namespace: default
  annotations: {halyard.dev/inbound-port: "not-a-port"}
spec: {address: 10.0.0.2, labels: {app: api}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.mesh.internal]
  resolution: STATIC
  workloadSelector: {labels: {app: api}}
  ports: [{number: 81, name: http, protocol: HTTP, targetPort: 7070}]
)",
                                    sidecar());
  const Snapshot& s = snapshotOf(r);
  EXPECT_EQ(addresses(s.clusters.at("outbound|80||api.default.svc.cluster.local")),
            (std::vector<std::string>{"10.0.0.1:15006", "10.0.0.2:8080"}));
  EXPECT_EQ(addresses(s.clusters.at("outbound|81||api.mesh.internal")),
            (std::vector<std::string>{"10.0.0.1:15006", "10.0.0.2:7070"}));
}

TEST(SidecarTest, GatewayRoleUnchanged) {
  constexpr std::string_view kGateway = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
)";
  TranslateResult r = translateYaml(withServices(kGateway));
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].kind, ListenerKind::kGateway);
  EXPECT_EQ(s.listeners[0].name, "0.0.0.0_80");
  EXPECT_TRUE(s.listeners[0].routes->virtual_hosts.empty());  // no VirtualService bound
  EXPECT_TRUE(s.clusters.empty());
}

TEST(SidecarTest, UnknownRoleIsAnError) {
  ProxyIdentity p = sidecar();
  p.role = "waypoint";
  TranslateResult r = translateYaml(kServices, p);
  EXPECT_EQ(r.snapshot, nullptr);
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].level, config::Level::kError);
}

TEST(SidecarTest, ThousandServicesTranslateQuickly) {
  std::string yaml;
  for (int i = 0; i < 1000; ++i) {
    const std::string n = std::to_string(i);
    yaml += "apiVersion: v1\nkind: Service\nmetadata: {name: svc-" + n + ", namespace: ns-" +
            std::to_string(i % 10) + "}\nspec:\n  selector: {app: svc-" + n +
            "}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n---\n";
    // Workloads registered by their sidecars, as the control plane writes them.
    yaml += "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w-" + n +
            ", namespace: ns-" + std::to_string(i % 10) +
            ", annotations: {halyard.dev/inbound-port: \"15006\"}}\nspec: {address: 10.0." +
            std::to_string(i / 250) + "." + std::to_string(i % 250) + ", labels: {app: svc-" + n +
            "}}\n---\n";
  }
  yaml += R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: ns-0}
spec:
  hosts: [svc-0]
  http: [{route: [{destination: {host: svc-0}}]}]
)";
  const config::model::ConfigSet config = parseConfig(yaml);
  const auto start = std::chrono::steady_clock::now();
  TranslateResult r = buildSnapshot(config, sidecar("ns-0"), 1);
  const auto took = std::chrono::steady_clock::now() - start;
  RecordProperty(
      "translate_us",
      static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerNamed(s, "0.0.0.0_80");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->routes->virtual_hosts.size(), 1000u);
  EXPECT_EQ(s.clusters.size(), 1000u);
  EXPECT_EQ(addresses(s.clusters.at("outbound|80||svc-1.ns-1.svc.cluster.local")),
            std::vector<std::string>{"10.0.0.1:15006"});
  // The time is recorded (translate_us in the test report), not asserted: timed tests are flaky
  // on shared machines; bench/control_bench measures translation at scale.
}

// The two parts a control plane translates separately compose to buildSnapshot's snapshot.
TEST(SidecarTest, OutboundAndOwnPartsComposeToTheWholeSnapshot) {
  const config::model::ConfigSet config = parseConfig(withServices(kSubsets));
  ProxyIdentity proxy = sidecar();
  proxy.app_port = 8080;
  const TranslateResult whole = buildSnapshot(config, proxy, 1);
  const TranslateResult outbound = buildSidecarOutbound(config, proxy, 1);
  const Snapshot own = SidecarOwnBuilder(config).build(proxy);

  std::vector<std::string> names, parts;
  for (const auto& l : snapshotOf(whole).listeners) names.push_back(l.name);
  for (const auto& l : own.listeners) parts.push_back(l.name);
  for (const auto& l : snapshotOf(outbound).listeners) parts.push_back(l.name);
  EXPECT_EQ(parts, names);
  EXPECT_EQ(own.listeners.at(0).name, "virtualInbound");
  EXPECT_EQ(own.clusters.size(), 1u);
  EXPECT_TRUE(own.clusters.count("inbound|8080||"));
  EXPECT_EQ(own.clusters.size() + snapshotOf(outbound).clusters.size(),
            snapshotOf(whole).clusters.size());
  for (const auto& [name, c] : snapshotOf(outbound).clusters) {
    EXPECT_TRUE(snapshotOf(whole).clusters.count(name)) << name;
  }
}

// Only sourceLabels and DestinationRule workloadSelectors make labels matter outbound.
TEST(SidecarTest, OutboundLabelKeysAreThoseSelectorsName) {
  EXPECT_TRUE(sidecarLabelKeys(parseConfig(withServices(kSubsets))).empty());
  const config::model::ConfigSet config = parseConfig(withServices(std::string(kSubsets) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{sourceLabels: {version: v2}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings-for-canary, namespace: default}
spec:
  host: ratings.other.svc.cluster.local
  workloadSelector: {matchLabels: {track: canary}}
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
)"));
  EXPECT_EQ(sidecarLabelKeys(config), (std::set<std::string>{"track", "version"}));

  auto routeOf = [&](const std::string& version) {
    const TranslateResult r =
        buildSidecarOutbound(config, sidecar("default", {{"version", version}}), 1);
    const VirtualHost* v = vhostNamed(*listenerNamed(snapshotOf(r), "0.0.0.0_9080"),
                                      "reviews.default.svc.cluster.local:9080");
    return v ? clustersOf(v->routes.at(0)) : std::vector<std::string>{};
  };
  EXPECT_EQ(routeOf("v2"),
            std::vector<std::string>{"outbound|9080|v2|reviews.default.svc.cluster.local=1"});
  EXPECT_EQ(routeOf("v1"),
            std::vector<std::string>{"outbound|9080|v1|reviews.default.svc.cluster.local=1"});
}

// ---- mesh mutual TLS (istio-semantics.md §7) -------------------------------------------------

TEST(SidecarTest, InboundListenerTakesItsPeerAuthenticationAtTheAppPort) {
  const std::string policies = R"(
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: client-ports, namespace: default}
spec:
  selector: {matchLabels: {app: client}}
  portLevelMtls: {"8080": {mode: DISABLE}}
)";
  auto inboundOf = [&](uint16_t app_port, std::map<std::string, std::string> labels) {
    ProxyIdentity proxy = sidecar("default", std::move(labels));
    proxy.app_port = app_port;
    const TranslateResult r = translateYaml(withServices(policies), proxy);
    const Listener* in = listenerNamed(snapshotOf(r), "virtualInbound");
    return in ? in->mtls : InboundMtls{};
  };
  const InboundMtls on_8080 = inboundOf(8080, {{"app", "client"}});
  EXPECT_EQ(on_8080.mode, PeerAuthMode::kDisable);
  EXPECT_EQ(on_8080.origin, "PeerAuthentication default/client-ports (workload, port 8080)");
  const InboundMtls on_9000 = inboundOf(9000, {{"app", "client"}});
  EXPECT_EQ(on_9000.mode, PeerAuthMode::kStrict);
  EXPECT_EQ(on_9000.origin, "PeerAuthentication istio-system/default (mesh)");
  EXPECT_EQ(inboundOf(8080, {{"app", "other"}}).mode, PeerAuthMode::kStrict);

  // No policy: PERMISSIVE; the control plane's own part says the same.
  ProxyIdentity proxy = sidecar();
  proxy.app_port = 8080;
  const Snapshot own = SidecarOwnBuilder(parseConfig(kServices)).build(proxy);
  ASSERT_FALSE(own.listeners.empty());
  EXPECT_EQ(own.listeners[0].mtls.mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(own.listeners[0].mtls.origin, "default (no PeerAuthentication applies)");
  // The inbound cluster is the app on loopback: never TLS.
  const Cluster& app = own.clusters.at("inbound|8080||");
  EXPECT_FALSE(app.tls);
  EXPECT_FALSE(app.auto_mtls);
}

TEST(SidecarTest, OutboundClustersGetAutoMtls) {
  const TranslateResult r = translateYaml(kServices, sidecar());
  const Cluster& c = snapshotOf(r).clusters.at("outbound|9080||reviews.default.svc.cluster.local");
  EXPECT_TRUE(c.auto_mtls);
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->mode, UpstreamTls::Mode::kIstioMutual);
  EXPECT_EQ(c.tls->sni, "outbound_.9080_._.reviews.default.svc.cluster.local");
  // Neither WorkloadEntry has a sidecar or a service account.
  EXPECT_TRUE(c.tls->subject_alt_names.empty());
  for (const auto& e : c.endpoints) EXPECT_FALSE(e.mesh_mtls) << e.address;
}

}  // namespace
}  // namespace halyard::translate

namespace halyard::translate {
namespace {

// A mesh VirtualService's tcp routes fill the sidecar's TCP route table of that port, named
// for the service's domains.
TEST(SidecarTest, MeshTcpRoutesFillThePortsTcpRouteTable) {
  TranslateResult r = translateYaml(std::string(kServices) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-db, namespace: default}
spec:
  hosts: [reviews]
  tcp:
  - match: [{port: 5432, sourceLabels: {app: someone-else}}]
    route: [{destination: {host: reviews, port: {number: 9080}}}]
  - match: [{port: 5432}]
    route:
    - {destination: {host: reviews, port: {number: 5432}}, weight: 90}
    - {destination: {host: ratings.other.svc.cluster.local, port: {number: 5432}}, weight: 10}
)",
                                    sidecar());
  const Listener* tcp = listenerNamed(snapshotOf(r), "0.0.0.0_5432_tcp");
  ASSERT_NE(tcp, nullptr);
  ASSERT_EQ(tcp->tcp_routes.size(), 1u);
  const TcpRoute& route = tcp->tcp_routes[0];
  EXPECT_EQ(route.origin, "default/reviews-db tcp[1]");
  ASSERT_EQ(route.clusters.size(), 2u);
  EXPECT_EQ(route.clusters[0].cluster, "outbound|5432||reviews.default.svc.cluster.local");
  EXPECT_EQ(route.total_weight, 100u);
  EXPECT_NE(std::find(route.hosts.begin(), route.hosts.end(), "reviews"), route.hosts.end());
  EXPECT_NE(
      std::find(route.hosts.begin(), route.hosts.end(), "reviews.default.svc.cluster.local:5432"),
      route.hosts.end());
}

// A sidecar whose app port a TCP service port delivers to proxies TCP on its inbound listener
// (after PeerAuthentication's mutual TLS) instead of HTTP.
TEST(SidecarTest, AnAppPortATcpServicePortTargetsGetsATcpInboundListener) {
  constexpr std::string_view kDb = R"(
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  selector: {app: db}
  ports: [{name: tcp-postgres, port: 5432, targetPort: 5432}, {name: http-admin, port: 80, targetPort: 8080}]
)";
  ProxyIdentity proxy = sidecar("default", {{"app", "db"}});
  proxy.app_port = 5432;
  TranslateResult r = translateYaml(kDb, proxy);
  const Listener* in = listenerNamed(snapshotOf(r), "virtualInbound");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->protocol, "TCP");
  ASSERT_EQ(in->tcp_routes.size(), 1u);
  EXPECT_TRUE(in->tcp_routes[0].matches.empty());
  EXPECT_EQ(in->tcp_routes[0].clusters.at(0).cluster, "inbound|5432||");
  EXPECT_EQ(in->mtls.mode, PeerAuthMode::kPermissive);

  proxy.app_port = 8080;  // the HTTP port of the same service
  TranslateResult http = translateYaml(kDb, proxy);
  const Listener* hin = listenerNamed(snapshotOf(http), "virtualInbound");
  ASSERT_NE(hin, nullptr);
  EXPECT_EQ(hin->protocol, "HTTP");
  EXPECT_TRUE(hin->tcp_routes.empty());
}

// A mesh VirtualService's tls routes (by SNI) come first in the port's TCP table; without tcp
// routes, what no SNI takes goes to the service itself.
TEST(SidecarTest, MeshTlsRoutesPrecedeTheServicesOwnRouteInTheTcpTable) {
  TranslateResult r = translateYaml(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: https, port: 8443}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  tls:
  - match: [{port: 8443, sniHosts: [v2.web.example.com]}]
    route: [{destination: {host: web, subset: v2}}]
  - match: [{port: 9443, sniHosts: [other.example.com]}]
    route: [{destination: {host: web, subset: v1}}]
)",
                                    sidecar());
  const Listener* tcp = listenerNamed(snapshotOf(r), "0.0.0.0_8443_tcp");
  ASSERT_NE(tcp, nullptr);
  ASSERT_EQ(tcp->tcp_routes.size(), 2u);
  EXPECT_EQ(tcp->tcp_routes[0].origin, "default/web tls[0]");
  ASSERT_EQ(tcp->tcp_routes[0].matches.size(), 1u);
  EXPECT_EQ(tcp->tcp_routes[0].matches[0].sni_hosts,
            std::vector<std::string>{"v2.web.example.com"});
  EXPECT_EQ(tcp->tcp_routes[0].clusters.at(0).cluster,
            "outbound|8443|v2|web.default.svc.cluster.local");
  EXPECT_EQ(tcp->tcp_routes[1].origin, "default route of web.default.svc.cluster.local:8443");
  EXPECT_TRUE(tcp->tcp_routes[1].matches.empty());
  EXPECT_EQ(tcp->tcp_routes[1].clusters.at(0).cluster,
            "outbound|8443||web.default.svc.cluster.local");
  for (const auto& route : tcp->tcp_routes) {
    EXPECT_NE(std::find(route.hosts.begin(), route.hosts.end(), "web"), route.hosts.end());
  }
}

// An app port of undeclared protocol stays HTTP on the inbound side, with a TCP route to the
// app for what arrives as TLS; the port is in the outbound TCP table too.
TEST(SidecarTest, AnUndeclaredAppPortKeepsHttpAndGetsATcpRouteForSniffedTls) {
  constexpr std::string_view kWeb = R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 8443, targetPort: 9443}]
)";
  ProxyIdentity proxy = sidecar("default", {{"app", "web"}});
  proxy.app_port = 9443;
  TranslateResult r = translateYaml(kWeb, proxy);
  const Listener* in = listenerNamed(snapshotOf(r), "virtualInbound");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->protocol, "HTTP");
  ASSERT_EQ(in->tcp_routes.size(), 1u);
  EXPECT_EQ(in->tcp_routes[0].clusters.at(0).cluster, "inbound|9443||");
  ASSERT_NE(listenerNamed(snapshotOf(r), "0.0.0.0_8443"), nullptr);
  const Listener* tcp = listenerNamed(snapshotOf(r), "0.0.0.0_8443_tcp");
  ASSERT_NE(tcp, nullptr);
  ASSERT_EQ(tcp->tcp_routes.size(), 1u);
  EXPECT_EQ(tcp->tcp_routes[0].clusters.at(0).cluster,
            "outbound|8443||web.default.svc.cluster.local");
}

// A sidecar's TCP route tables select tcp and tls match blocks by its labels as well: their keys
// split sidecars into outbound classes too, or two sidecars would share one's table.
TEST(SidecarTest, OutboundLabelKeysIncludeThoseOfTcpAndTlsMatches) {
  const auto config = parseConfig(std::string(kServices) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-db, namespace: default}
spec:
  hosts: [reviews]
  tcp:
  - match: [{port: 5432, sourceLabels: {team: a}}]
    route: [{destination: {host: reviews}}]
  tls:
  - match: [{port: 5432, sniHosts: [reviews], sourceLabels: {tier: b}}]
    route: [{destination: {host: reviews}}]
)");
  EXPECT_EQ(sidecarLabelKeys(config), (std::set<std::string>{"team", "tier"}));
}

}  // namespace
}  // namespace halyard::translate
