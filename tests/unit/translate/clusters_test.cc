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
  std::string yaml = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [a.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
)";
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
  EXPECT_EQ(v1.not_enforced, std::vector<std::string>{"trafficPolicy.outlierDetection"});
  const Cluster& v2 = s.clusters.at("outbound|9080|v2|reviews.default.svc.cluster.local");
  EXPECT_EQ(addresses(v2), std::vector<std::string>{"10.0.0.2:8080"});
  EXPECT_EQ(v2.lb, LbPolicy::kRandom);  // the subset's loadBalancer block replaces the top one
  // An undefined subset: still a route to the cluster name, no cluster (503 NC), a warning.
  EXPECT_EQ(s.clusters.count("outbound|9080|v3|reviews.default.svc.cluster.local"), 0u);
  EXPECT_TRUE(hasWarning(r, "subset \"v3\" of reviews.default.svc.cluster.local"));
  EXPECT_TRUE(hasWarning(r, "trafficPolicy.outlierDetection is parsed but not enforced"));
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
  EXPECT_EQ(grpc.not_enforced, std::vector<std::string>{"trafficPolicy.connectionPool.http"});
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

}  // namespace
}  // namespace halyard::translate
