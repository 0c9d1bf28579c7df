// Clusters and endpoints: Kubernetes Services and Endpoints, ServiceEntries, DestinationRule
// subsets and policies (istio-semantics.md §0.2, §3, §4, §5).
#include <gtest/gtest.h>

#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

// A gateway on port 80 for a.example.com and a VirtualService routing /<i> to each destination
// of `destinations` (YAML flow maps), followed by `rest`.
std::string routingTo(const std::vector<std::string>& destinations, std::string_view rest) {
  std::string yaml(kGatewayRoutesHead);
  for (size_t i = 0; i < destinations.size(); ++i) {
    yaml += "  - match: [{uri: {prefix: /" + std::to_string(i) + "}}]\n";
    yaml += "    route: [{destination: " + destinations[i] + "}]\n";
  }
  return yaml + "---\n" + std::string(rest);
}

std::vector<std::string> addresses(const Cluster& c) {
  std::vector<std::string> out;
  for (const auto& e : c.endpoints) out.push_back(e.address + ":" + std::to_string(e.port));
  return out;
}

constexpr std::string_view kReviews = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 8080}, {name: grpc, port: 9090}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: default}
subsets:
- addresses:
  - {ip: 10.0.0.1, targetRef: {kind: Pod, name: reviews-v1}}
  - {ip: 10.0.0.2, targetRef: {kind: Pod, name: reviews-v2}}
  notReadyAddresses: [{ip: 10.0.0.9}]
  ports: [{name: grpc, port: 7070}, {name: http, port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
spec: {containers: [{name: app}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2, namespace: default, labels: {app: reviews, version: v2}}
spec: {containers: [{name: app}]}
status: {podIP: 10.0.0.2}
)";

TEST(ClustersTest, KubernetesEndpointsMapPortsByName) {
  TranslateResult r = translateYaml(
      routingTo({"{host: reviews, port: {number: 9080}}", "{host: reviews, port: {number: 9090}}"},
                kReviews));
  const Snapshot& s = snapshotOf(r);
  const Cluster& http = s.clusters.at("outbound|9080||reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(http), (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080"}));
  EXPECT_EQ(http.endpoints[0].labels.at("version"), "v1");
  EXPECT_EQ(http.endpoints[0].workload, "reviews-v1");
  EXPECT_EQ(http.endpoints[0].namespace_, "default");
  const Cluster& grpc = s.clusters.at("outbound|9090||reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(grpc), (std::vector<std::string>{"10.0.0.1:7070", "10.0.0.2:7070"}));
}

TEST(ClustersTest, PodsAreTheEndpointsWhenNoEndpointsObjectExists) {
  TranslateResult r = translateYaml(routingTo({"{host: web}"}, R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web-port}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec: {containers: [{name: app, ports: [{name: web-port, containerPort: 3000}]}]}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: default, labels: {app: other}}
spec: {containers: [{name: app}]}
status: {podIP: 10.1.0.2}
)"));
  const Cluster& c = snapshotOf(r).clusters.at("outbound|80||web.default.svc.cluster.local");
  EXPECT_EQ(addresses(c), std::vector<std::string>{"10.1.0.1:3000"});
}

TEST(ClustersTest, SubsetsSelectEndpointsAndCarryTheirPolicy) {
  TranslateResult r = translateYaml(routingTo({"{host: reviews, port: {number: 9080}, subset: v1}",
                                               "{host: reviews, port: {number: 9080}, subset: v2}",
                                               "{host: reviews, port: {number: 9080}, subset: v3}"},
                                              std::string(kReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {connectTimeout: 250ms}}
    outlierDetection: {consecutive5xxErrors: 3}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
)"));
  const Snapshot& s = snapshotOf(r);
  const Cluster& v1 = s.clusters.at("outbound|9080|v1|reviews.default.svc.cluster.local");
  EXPECT_EQ(v1.subset, "v1");
  EXPECT_EQ(addresses(v1), std::vector<std::string>{"10.0.0.1:8080"});
  EXPECT_EQ(v1.lb, LbPolicy::kRoundRobin);
  EXPECT_EQ(v1.connect_timeout, Millis(250));
  EXPECT_TRUE(v1.not_enforced.empty());
  ASSERT_TRUE(v1.outlier.has_value());
  EXPECT_EQ(v1.outlier->consecutive_5xx, 3u);
  const Cluster& v2 = s.clusters.at("outbound|9080|v2|reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(v2), std::vector<std::string>{"10.0.0.2:8080"});
  EXPECT_EQ(v2.lb, LbPolicy::kRandom);  // the subset's loadBalancer block replaces the top one
  // An undefined subset: still a route to the cluster name, no cluster (503 NC), a warning.
  EXPECT_EQ(s.clusters.count("outbound|9080|v3|reviews.default.svc.cluster.local"), 0u);
  EXPECT_TRUE(hasWarning(r, "subset \"v3\" of reviews.default.svc.cluster.local"));
  EXPECT_FALSE(hasWarning(r, "trafficPolicy.outlierDetection is parsed but not enforced"));
}

TEST(ClustersTest, PortLevelSettingsReplaceTheTopLevelBlocks) {
  TranslateResult r = translateYaml(
      routingTo({"{host: reviews, port: {number: 9080}}", "{host: reviews, port: {number: 9090}}"},
                std::string(kReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    portLevelSettings:
    - port: {number: 9090}
      connectionPool: {http: {maxRequestsPerConnection: 1}}
)"));
  const Snapshot& s = snapshotOf(r);
  EXPECT_EQ(s.clusters.at("outbound|9080||reviews.default.svc.cluster.local").lb,
            LbPolicy::kRandom);
  const Cluster& grpc = s.clusters.at("outbound|9090||reviews.default.svc.cluster.local");
  EXPECT_EQ(grpc.lb, LbPolicy::kLeastRequest);  // the port entry has no loadBalancer: default
  EXPECT_TRUE(grpc.not_enforced.empty());
  EXPECT_EQ(grpc.pool.max_requests_per_connection, 1u);
}

TEST(ClustersTest, DestinationRuleLookupPrefersTheProxyNamespaceAndExactHosts) {
  TranslateResult r = translateYaml(
      routingTo({"{host: reviews, port: {number: 9080}}"}, std::string(kReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: in-service-ns, namespace: default}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wildcard-in-proxy-ns, namespace: istio-system}
spec:
  host: "*.default.svc.cluster.local"
  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: exact-in-proxy-ns, namespace: istio-system}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: not-exported, namespace: istio-system}
spec:
  host: reviews.default.svc.cluster.local
  exportTo: [default]
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
)"));
  EXPECT_EQ(snapshotOf(r).clusters.at("outbound|9080||reviews.default.svc.cluster.local").lb,
            LbPolicy::kRoundRobin);
}

TEST(ClustersTest, DestinationRulesOfOneScopeMergeAndSelectorsTakePrecedence) {
  TranslateResult r = translateYaml(routingTo({"{host: reviews, port: {number: 9080}, subset: v1}",
                                               "{host: reviews, port: {number: 9080}, subset: v2}",
                                               "{host: web.default.svc.cluster.local}"},
                                              std::string(kReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b-newer, namespace: default, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets:
  - {name: v1, labels: {version: none}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a-older, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: istio-system}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: web-vm, namespace: default}
spec: {address: 10.3.0.1, labels: {app: web}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-all, namespace: istio-system}
spec:
  host: web.default.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-for-this-gateway, namespace: istio-system}
spec:
  host: web.default.svc.cluster.local
  workloadSelector: {matchLabels: {istio: ingressgateway}}
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
)"));
  const Snapshot& s = snapshotOf(r);
  // Subsets concatenate (the oldest rule's v1 wins), the oldest rule's trafficPolicy applies.
  const Cluster& v1 = s.clusters.at("outbound|9080|v1|reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(v1), std::vector<std::string>{"10.0.0.1:8080"});
  EXPECT_EQ(v1.lb, LbPolicy::kRoundRobin);
  const Cluster& v2 = s.clusters.at("outbound|9080|v2|reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(v2), std::vector<std::string>{"10.0.0.2:8080"});
  // A rule selecting this gateway beats one without a selector; WorkloadEntries selected by a
  // Service's selector are its endpoints too.
  const Cluster& web = s.clusters.at("outbound|80||web.default.svc.cluster.local");
  EXPECT_EQ(web.lb, LbPolicy::kRoundRobin);
  EXPECT_EQ(addresses(web), std::vector<std::string>{"10.3.0.1:80"});
  EXPECT_EQ(web.endpoints[0].workload, "web-vm");
}

TEST(ClustersTest, ExternalNameServicesResolveTheirName) {
  TranslateResult r = translateYaml(routingTo({"{host: legacy}"}, R"(
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: default}
spec:
  type: ExternalName
  externalName: legacy.example.net
  ports: [{name: http, port: 8080}]
)"));
  const Cluster& c = snapshotOf(r).clusters.at("outbound|8080||legacy.default.svc.cluster.local");
  EXPECT_TRUE(c.resolve_dns);
  EXPECT_EQ(addresses(c), std::vector<std::string>{"legacy.example.net:8080"});
}

TEST(ClustersTest, ServiceEntryStaticEndpoints) {
  TranslateResult r = translateYaml(routingTo({"{host: api.external.com, port: {number: 80}}",
                                               "{host: api.external.com, port: {number: 8443}}"},
                                              R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.external.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  - {number: 8443, name: alt, protocol: HTTP}
  endpoints:
  - {address: 192.0.2.1, labels: {zone: a}, weight: 3}
  - {address: 192.0.2.2, ports: {http: 9999}}
)"));
  const Snapshot& s = snapshotOf(r);
  const Cluster& http = s.clusters.at("outbound|80||api.external.com");
  EXPECT_FALSE(http.resolve_dns);
  EXPECT_EQ(http.service_name, "api.external.com");
  EXPECT_EQ(http.service_namespace, "default");
  // The endpoint's named port wins, then targetPort, then the port number.
  EXPECT_EQ(addresses(http), (std::vector<std::string>{"192.0.2.1:8080", "192.0.2.2:9999"}));
  EXPECT_EQ(http.endpoints[0].weight, 3u);
  EXPECT_EQ(http.endpoints[0].labels.at("zone"), "a");
  const Cluster& alt = s.clusters.at("outbound|8443||api.external.com");
  EXPECT_EQ(addresses(alt), (std::vector<std::string>{"192.0.2.1:8443", "192.0.2.2:8443"}));
}

TEST(ClustersTest, ServiceEntryDnsResolution) {
  TranslateResult r = translateYaml(
      routingTo({"{host: httpbin.org}", "{host: rr.example.com}", "{host: eps.example.com}"},
                R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: default}
spec:
  hosts: [httpbin.org]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: rr, namespace: default}
spec:
  hosts: [rr.example.com]
  resolution: DNS_ROUND_ROBIN
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: one.example.com}, {address: two.example.com}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: eps, namespace: default}
spec:
  hosts: [eps.example.com]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: a.internal}, {address: 198.51.100.7}]
)"));
  const Snapshot& s = snapshotOf(r);
  const Cluster& dns = s.clusters.at("outbound|80||httpbin.org");
  EXPECT_TRUE(dns.resolve_dns);
  EXPECT_EQ(addresses(dns), std::vector<std::string>{"httpbin.org:80"});
  const Cluster& rr = s.clusters.at("outbound|80||rr.example.com");
  EXPECT_TRUE(rr.resolve_dns);
  EXPECT_EQ(addresses(rr), std::vector<std::string>{"one.example.com:80"});
  EXPECT_EQ(addresses(s.clusters.at("outbound|80||eps.example.com")),
            (std::vector<std::string>{"a.internal:80", "198.51.100.7:80"}));
}

TEST(ClustersTest, ServiceEntryWorkloadSelector) {
  TranslateResult r = translateYaml(routingTo({"{host: vm.internal}"}, R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: apps}
spec:
  hosts: [vm.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8000}]
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: apps}
spec: {address: 10.2.0.1, labels: {app: vm, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-2, namespace: apps}
spec: {address: 10.2.0.2, labels: {app: vm}, ports: {http: 8081}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: elsewhere, namespace: default}
spec: {address: 10.2.0.3, labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: unrelated, namespace: apps}
spec: {address: 10.2.0.4, labels: {app: db}}
)"));
  const Cluster& c = snapshotOf(r).clusters.at("outbound|80||vm.internal");
  EXPECT_EQ(addresses(c), (std::vector<std::string>{"10.2.0.1:8000", "10.2.0.2:8081"}));
  EXPECT_EQ(c.endpoints[0].workload, "vm-1");
  EXPECT_EQ(c.endpoints[0].namespace_, "apps");
  EXPECT_EQ(c.service_namespace, "apps");
}

TEST(ClustersTest, ServiceEntryVisibilityAndResolutionNone) {
  TranslateResult r =
      translateYaml(routingTo({"{host: hidden.example.com}", "{host: passthrough.example.com}"},
                              R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: hidden, namespace: default}
spec:
  hosts: [hidden.example.com]
  exportTo: ["."]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 192.0.2.10}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: passthrough, namespace: default}
spec:
  hosts: [passthrough.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
)"));
  const Snapshot& s = snapshotOf(r);
  // Not exported to the gateway's namespace: unknown to it.
  EXPECT_EQ(s.clusters.count("outbound|80||hidden.example.com"), 0u);
  EXPECT_TRUE(hasWarning(r, "destination host hidden.example.com matches no Service"));
  EXPECT_TRUE(s.clusters.at("outbound|80||passthrough.example.com").endpoints.empty());
  EXPECT_TRUE(hasWarning(r, "resolution NONE is not served yet"));
}

TEST(ClustersTest, UnknownHostsAndPortsStillRoute) {
  TranslateResult r = translateYaml(
      routingTo({"{host: nowhere}", "{host: reviews, port: {number: 1234}}"}, kReviews));
  const Snapshot& s = snapshotOf(r);
  EXPECT_EQ(s.clusters.size(), 0u);
  const VirtualHost* v = vhostFor(s, 80, "a.example.com");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->routes.size(), 2u);
  // Neither has a Cluster entry: the proxy answers 503 NC.
  EXPECT_EQ(forward(v->routes[0])->clusters[0].cluster,
            "outbound|80||nowhere.default.svc.cluster.local");
  EXPECT_EQ(forward(v->routes[1])->clusters[0].cluster,
            "outbound|1234||reviews.default.svc.cluster.local");
  EXPECT_TRUE(hasWarning(r, "service reviews.default.svc.cluster.local has no port 1234"));
  EXPECT_EQ(r.diagnostics.size(), 2u);
  EXPECT_EQ(r.diagnostics[0].code, "HAL0102");
  EXPECT_EQ(r.diagnostics[0].level, config::Level::kWarning);
  EXPECT_EQ(r.diagnostics[0].field_path, "spec.http[0].route[0].destination");
  EXPECT_EQ(s.warnings.size(), 2u);
}

// ---- Istio mutual TLS and auto mTLS (istio-semantics.md §3.6, §7) --------------------------

// reviews in shop: a workload a sidecar registered (as the control plane writes its entry), a
// VM without a sidecar, and a pod labelled as sidecar-injected.
constexpr std::string_view kMeshReviews = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: reviews-sidecar
  namespace: shop
  labels: {app: reviews, version: v1, security.istio.io/tlsMode: istio}
  annotations: {halyard.dev/inbound-port: "15006", halyard.dev/app-port: "8080"}
spec:
  address: 10.0.0.1
  labels: {app: reviews, version: v1, security.istio.io/tlsMode: istio}
  serviceAccount: reviews
  ports: {http: 8080}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-vm, namespace: shop}
spec: {address: 10.0.0.2, labels: {app: reviews, version: v2}, serviceAccount: legacy}
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-pod
  namespace: shop
  labels: {app: reviews, version: v3, security.istio.io/tlsMode: istio}
spec: {containers: [{name: app}]}
status: {podIP: 10.0.0.3}
)";

constexpr std::string_view kReviewsCluster = "outbound|9080||reviews.shop.svc.cluster.local";

const Endpoint& endpointAt(const Cluster& c, std::string_view address) {
  for (const auto& e : c.endpoints) {
    if (e.address == address) return e;
  }
  ADD_FAILURE() << "no endpoint " << address << " in " << c.name;
  static const Endpoint kNone;
  return kNone;
}

TEST(MeshMtlsTest, AutoMtlsMarksTheEndpointsThatRunASidecar) {
  TranslateResult r =
      translateYaml(routingTo({"{host: reviews.shop.svc.cluster.local}"}, kMeshReviews));
  const Snapshot& s = snapshotOf(r);
  const Cluster& c = s.clusters.at(std::string(kReviewsCluster));
  EXPECT_EQ(addresses(c),
            (std::vector<std::string>{"10.0.0.3:8080", "10.0.0.1:15006", "10.0.0.2:8080"}));
  // Registered by a sidecar (labelled, reached on its inbound port): mutual TLS.
  const Endpoint& sidecar = endpointAt(c, "10.0.0.1");
  EXPECT_TRUE(sidecar.mesh_mtls);
  EXPECT_FALSE(sidecar.requires_mtls);  // PERMISSIVE: no PeerAuthentication
  EXPECT_EQ(sidecar.service_account, "reviews");
  // No sidecar: plaintext.
  const Endpoint& vm = endpointAt(c, "10.0.0.2");
  EXPECT_FALSE(vm.mesh_mtls);
  EXPECT_EQ(vm.service_account, "legacy");
  // An injected pod: mutual TLS; Kubernetes' default service account.
  const Endpoint& pod = endpointAt(c, "10.0.0.3");
  EXPECT_TRUE(pod.mesh_mtls);
  EXPECT_EQ(pod.service_account, "default");

  EXPECT_TRUE(c.auto_mtls);
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->mode, UpstreamTls::Mode::kIstioMutual);
  EXPECT_EQ(c.tls->sni, "outbound_.9080_._.reviews.shop.svc.cluster.local");
  EXPECT_EQ(c.tls->subject_alt_names,
            (std::vector<std::string>{"spiffe://cluster.local/ns/shop/sa/default",
                                      "spiffe://cluster.local/ns/shop/sa/legacy",
                                      "spiffe://cluster.local/ns/shop/sa/reviews"}));
  EXPECT_TRUE(c.tls->ca.empty());
  EXPECT_TRUE(c.tls->client_certificate.certificate_chain.empty());
  EXPECT_EQ(c.tls->origin,
            "auto mTLS (no DestinationRule tls for reviews.shop.svc.cluster.local:9080)");
  EXPECT_EQ(c.tls_disabled_by, "");
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
}

TEST(MeshMtlsTest, TheDestinationsPeerAuthenticationDecidesPerEndpoint) {
  TranslateResult r = translateYaml(
      routingTo({"{host: reviews.shop.svc.cluster.local}"}, std::string(kMeshReviews) +
                                                                R"(---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: shop-strict, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: v3-plain, namespace: shop}
spec:
  selector: {matchLabels: {version: v3}}
  mtls: {mode: DISABLE}
)"));
  const Cluster& c = snapshotOf(r).clusters.at(std::string(kReviewsCluster));
  // STRICT: mutual TLS, and plaintext would be refused.
  EXPECT_TRUE(endpointAt(c, "10.0.0.1").mesh_mtls);
  EXPECT_TRUE(endpointAt(c, "10.0.0.1").requires_mtls);
  // DISABLE at the destination turns mutual TLS off even though a sidecar runs it.
  EXPECT_FALSE(endpointAt(c, "10.0.0.3").mesh_mtls);
  EXPECT_FALSE(endpointAt(c, "10.0.0.3").requires_mtls);
  // No sidecar: nothing to enforce STRICT, plaintext.
  EXPECT_FALSE(endpointAt(c, "10.0.0.2").mesh_mtls);
  EXPECT_FALSE(endpointAt(c, "10.0.0.2").requires_mtls);
}

TEST(MeshMtlsTest, PortLevelMtlsIsLookedUpAtTheAppPortBehindTheSidecar) {
  // The sidecar's endpoint is 10.0.0.1:15006 (its inbound port); its app listens on 8080, the
  // port portLevelMtls names.
  auto sidecarEndpoint = [](std::string_view port_key) {
    TranslateResult r = translateYaml(
        routingTo({"{host: reviews.shop.svc.cluster.local}"}, std::string(kMeshReviews) + R"(---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: v1-ports, namespace: shop}
spec:
  selector: {matchLabels: {version: v1}}
  mtls: {mode: STRICT}
  portLevelMtls:
    ")" + std::string(port_key) + R"(": {mode: DISABLE}
)"));
    return endpointAt(snapshotOf(r).clusters.at(std::string(kReviewsCluster)), "10.0.0.1");
  };
  const Endpoint on_app_port = sidecarEndpoint("8080");
  EXPECT_FALSE(on_app_port.mesh_mtls);
  EXPECT_FALSE(on_app_port.requires_mtls);
  const Endpoint on_inbound_port = sidecarEndpoint("15006");
  EXPECT_TRUE(on_inbound_port.mesh_mtls);
  EXPECT_TRUE(on_inbound_port.requires_mtls);
}

TEST(MeshMtlsTest, DestinationRuleIstioMutualAndDisable) {
  TranslateResult r = translateYaml(routingTo({"{host: reviews.shop.svc.cluster.local}",
                                               "{host: reviews.shop.svc.cluster.local, subset: v1}",
                                               "{host: reviews.shop.svc.cluster.local, subset: v2}",
                                               "{host: ratings.shop.svc.cluster.local}"},
                                              std::string(kMeshReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-dr, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: DISABLE}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      tls: {mode: ISTIO_MUTUAL, sni: reviews.example, subjectAltNames: [spiffe://other/ns/x/sa/y]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings-dr, namespace: shop}
spec:
  host: ratings
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
    - port: {number: 9080}
      tls: {mode: DISABLE}
)"));
  const Snapshot& s = snapshotOf(r);
  // DISABLE: plaintext to every endpoint, saying which rule did it.
  const Cluster& plain = s.clusters.at(std::string(kReviewsCluster));
  EXPECT_FALSE(plain.tls);
  EXPECT_FALSE(plain.auto_mtls);
  EXPECT_EQ(plain.tls_disabled_by, "shop/reviews-dr trafficPolicy.tls");
  EXPECT_EQ(s.clusters.at("outbound|9080||ratings.shop.svc.cluster.local").tls_disabled_by,
            "shop/ratings-dr trafficPolicy.portLevelSettings[0].tls");
  // ISTIO_MUTUAL: every endpoint, the subset in the SNI, the service's accounts (all subsets').
  const Cluster& v1 = s.clusters.at("outbound|9080|v1|reviews.shop.svc.cluster.local");
  ASSERT_TRUE(v1.tls);
  EXPECT_FALSE(v1.auto_mtls);
  EXPECT_EQ(v1.tls->mode, UpstreamTls::Mode::kIstioMutual);
  EXPECT_EQ(v1.tls->sni, "outbound_.9080_.v1_.reviews.shop.svc.cluster.local");
  EXPECT_EQ(v1.tls->subject_alt_names.size(), 3u);
  EXPECT_EQ(v1.tls->origin, "shop/reviews-dr subsets[v1].trafficPolicy.tls");
  EXPECT_EQ(v1.tls_disabled_by, "");
  // Its own sni and subjectAltNames win.
  const Cluster& v2 = s.clusters.at("outbound|9080|v2|reviews.shop.svc.cluster.local");
  ASSERT_TRUE(v2.tls);
  EXPECT_EQ(v2.tls->sni, "reviews.example");
  EXPECT_EQ(v2.tls->subject_alt_names, std::vector<std::string>{"spiffe://other/ns/x/sa/y"});
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
}

TEST(MeshMtlsTest, ServiceEntriesLocationEndpointsAndSubjectAltNames) {
  TranslateResult r = translateYaml(routingTo(
      {"{host: api.external.com}", "{host: vm.internal}", "{host: reviews.shop.svc.cluster.local}"},
      std::string(kMeshReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.external.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 192.0.2.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: apps}
spec:
  hosts: [vm.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  subjectAltNames: [spiffe://cluster.local/ns/apps/sa/vm-extra]
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.2.0.1}
  - {address: 10.2.0.2, labels: {security.istio.io/tlsMode: istio}, serviceAccount: vm}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews-sans, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  subjectAltNames: [reviews.legacy.example]
  ports: [{number: 9080, name: http, protocol: HTTP}]
)"));
  const Snapshot& s = snapshotOf(r);
  // Outside the mesh: never auto mTLS (Istio), plaintext.
  const Cluster& ext = s.clusters.at("outbound|80||api.external.com");
  EXPECT_FALSE(ext.auto_mtls);
  EXPECT_FALSE(ext.tls);
  EXPECT_FALSE(ext.endpoints.at(0).mesh_mtls);
  // Inside: a plain endpoint is not a mesh endpoint, a labelled one is.
  const Cluster& vm = s.clusters.at("outbound|80||vm.internal");
  EXPECT_TRUE(vm.auto_mtls);
  EXPECT_FALSE(endpointAt(vm, "10.2.0.1").mesh_mtls);
  EXPECT_TRUE(endpointAt(vm, "10.2.0.2").mesh_mtls);
  ASSERT_TRUE(vm.tls);
  EXPECT_EQ(vm.tls->subject_alt_names,
            (std::vector<std::string>{"spiffe://cluster.local/ns/apps/sa/vm",
                                      "spiffe://cluster.local/ns/apps/sa/vm-extra"}));
  // A ServiceEntry for a Kubernetes Service's host adds its subjectAltNames to the Service's.
  const Cluster& reviews = s.clusters.at(std::string(kReviewsCluster));
  ASSERT_TRUE(reviews.tls);
  EXPECT_EQ(reviews.tls->subject_alt_names.size(), 4u);
  EXPECT_EQ(reviews.tls->subject_alt_names.front(), "reviews.legacy.example");
}

TEST(MeshMtlsTest, TheTrustDomainComesFromTheIstioConfigMap) {
  TranslateResult r = translateYaml(
      routingTo({"{host: reviews.shop.svc.cluster.local}"}, std::string(kMeshReviews) + R"(---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    trustDomain: corp.example
)"));
  const Cluster& c = snapshotOf(r).clusters.at(std::string(kReviewsCluster));
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->subject_alt_names,
            (std::vector<std::string>{"spiffe://corp.example/ns/shop/sa/default",
                                      "spiffe://corp.example/ns/shop/sa/legacy",
                                      "spiffe://corp.example/ns/shop/sa/reviews"}));
  // Service hosts keep the cluster domain: the trust domain names identities only.
  EXPECT_EQ(c.tls->sni, "outbound_.9080_._.reviews.shop.svc.cluster.local");
}

}  // namespace
}  // namespace halyard::translate

namespace halyard::translate {
namespace {

using namespace testing;

// HTTP/2 upstream (issue 11): by the port's protocol, and by the DestinationRule.
TEST(ClustersHttp2Test, PortProtocolAndDestinationRuleChooseHttp2) {
  TranslateResult r = translateYaml(routingTo(
      {"{host: reviews, port: {number: 9080}}", "{host: reviews, port: {number: 9090}}",
       "{host: api.external.com, port: {number: 80}}",
       "{host: api.external.com, port: {number: 81}}", "{host: ratings, port: {number: 80}}",
       "{host: details, port: {number: 80}}", "{host: app-proto, port: {number: 80}}"},
      std::string(kReviews) + R"(
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.external.com]
  resolution: STATIC
  ports:
  - {number: 80, name: a, protocol: GRPC}
  - {number: 81, name: b, protocol: HTTP}
  endpoints: [{address: 192.0.2.1}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: details, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: app-proto, namespace: default}
spec: {ports: [{name: web, port: 80, appProtocol: kubernetes.io/h2c}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: default}
spec:
  host: details
  trafficPolicy: {connectionPool: {http: {useClientProtocol: true}}}
)"));
  const Snapshot& s = snapshotOf(r);
  EXPECT_FALSE(s.clusters.at("outbound|9080||reviews.default.svc.cluster.local").http2);
  EXPECT_TRUE(s.clusters.at("outbound|9090||reviews.default.svc.cluster.local").http2);
  EXPECT_TRUE(s.clusters.at("outbound|80||api.external.com").http2);
  EXPECT_FALSE(s.clusters.at("outbound|81||api.external.com").http2);
  EXPECT_TRUE(s.clusters.at("outbound|80||ratings.default.svc.cluster.local").http2);
  const Cluster& details = s.clusters.at("outbound|80||details.default.svc.cluster.local");
  EXPECT_FALSE(details.http2);
  EXPECT_TRUE(details.use_client_protocol);
  EXPECT_TRUE(s.clusters.at("outbound|80||app-proto.default.svc.cluster.local").http2);
}

}  // namespace
}  // namespace halyard::translate
