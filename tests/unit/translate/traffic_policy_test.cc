// DestinationRule traffic policy compiled into clusters: Istio's MergeTrafficPolicy for subsets
// and portLevelSettings, connection pool limits, outlier detection with Istio's defaults,
// consistent hashing, locality balancing (only with outlier detection) and warmup
// (istio-semantics.md §3.2-§3.5).
#include <gtest/gtest.h>

#include "translate/traffic_policy_compiler.h"
#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

std::string withRule(std::string_view destinations, std::string_view rule) {
  std::string yaml(kGatewayRoutesHead);
  yaml += std::string(destinations);
  yaml += R"(---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 81, targetPort: 8081}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
  labels: {app: web, version: v1, topology.kubernetes.io/region: r1,
           topology.kubernetes.io/zone: z1}
spec: {containers: [{name: app}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: default, labels: {app: web, version: v2}}
spec: {containers: [{name: app}]}
status: {podIP: 10.0.0.2}
---
)";
  return yaml + std::string(rule);
}

constexpr std::string_view kRoutes = R"(  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: web, port: {number: 80}}}]
  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: web, port: {number: 81}}}]
  - match: [{uri: {prefix: /c}}]
    route: [{destination: {host: web, port: {number: 80}, subset: v1}}]
  - match: [{uri: {prefix: /d}}]
    route: [{destination: {host: web, port: {number: 81}, subset: v1}}]
)";

const Cluster& clusterOf(const TranslateResult& r, std::string_view name) {
  return snapshotOf(r).clusters.at(std::string(name));
}

TEST(TrafficPolicyTest, ConnectionPoolLimitsAndTimeouts) {
  TranslateResult r = translateYaml(withRule(kRoutes, R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
        connectTimeout: 2s
        maxConnectionDuration: 1m
        idleTimeout: 30s
        tcpKeepalive: {time: 10s, interval: 3s, probes: 4}
      http:
        http1MaxPendingRequests: 2
        http2MaxRequests: 7
        maxRequestsPerConnection: 5
        maxRetries: 3
        maxConcurrentStreams: 100
)"));
  const Cluster& c = clusterOf(r, "outbound|80||web.default.svc.cluster.local");
  EXPECT_EQ(c.pool.max_connections, 1u);
  EXPECT_EQ(c.connect_timeout, Millis(2000));
  EXPECT_EQ(c.pool.max_connection_duration, Millis(60000));
  EXPECT_EQ(c.pool.idle_timeout, Millis(30000));  // tcp.idleTimeout when http has none
  EXPECT_TRUE(c.pool.tcp_keepalive);
  EXPECT_EQ(c.pool.keepalive_time, Millis(10000));
  EXPECT_EQ(c.pool.keepalive_interval, Millis(3000));
  EXPECT_EQ(c.pool.keepalive_probes, 4u);
  EXPECT_EQ(c.pool.max_pending_requests, 2u);
  EXPECT_EQ(c.pool.max_requests, 7u);
  EXPECT_EQ(c.pool.max_requests_per_connection, 5u);
  EXPECT_EQ(c.pool.max_retries, 3u);
  EXPECT_EQ(c.pool.max_concurrent_streams, 100u);
  EXPECT_TRUE(c.not_enforced.empty());
  EXPECT_FALSE(c.outlier.has_value());
  EXPECT_FALSE(c.locality_lb.has_value());
}

TEST(TrafficPolicyTest, OutlierDetectionDefaultsAreIstios) {
  TranslateResult r = translateYaml(withRule(kRoutes, R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  trafficPolicy:
    outlierDetection: {consecutiveGatewayErrors: 2}
)"));
  const Cluster& c = clusterOf(r, "outbound|80||web.default.svc.cluster.local");
  ASSERT_TRUE(c.outlier.has_value());
  EXPECT_EQ(c.outlier->consecutive_5xx, 5u);
  EXPECT_EQ(c.outlier->consecutive_gateway_errors, 2u);
  EXPECT_EQ(c.outlier->interval, Millis(10000));
  EXPECT_EQ(c.outlier->base_ejection_time, Millis(30000));
  EXPECT_EQ(c.outlier->max_ejection_percent, 10u);
  EXPECT_EQ(c.outlier->min_health_percent, 0u);
  // Locality balancing comes with outlier detection, as in Istio.
  EXPECT_TRUE(c.locality_lb.has_value());
  // The pod's topology labels are its locality.
  EXPECT_EQ(c.endpoints[0].locality, "r1/z1");
  EXPECT_EQ(c.endpoints[1].locality, "");
}

TEST(TrafficPolicyTest, SubsetBlocksReplaceTopLevelBlocksWhole) {
  TranslateResult r = translateYaml(withRule(kRoutes, R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 10}, http: {maxRetries: 4}}
    outlierDetection: {consecutive5xxErrors: 2}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      connectionPool: {http: {http2MaxRequests: 9}}
)"));
  const Cluster& top = clusterOf(r, "outbound|80||web.default.svc.cluster.local");
  EXPECT_EQ(top.pool.max_connections, 10u);
  const Cluster& v1 = clusterOf(r, "outbound|80|v1|web.default.svc.cluster.local");
  // connectionPool: the subset's block, whole (no maxConnections from the top level).
  EXPECT_EQ(v1.pool.max_connections, 0u);
  EXPECT_EQ(v1.pool.max_retries, 0u);
  EXPECT_EQ(v1.pool.max_requests, 9u);
  // Blocks the subset leaves alone come from the top level.
  EXPECT_EQ(v1.lb, LbPolicy::kRoundRobin);
  ASSERT_TRUE(v1.outlier.has_value());
  EXPECT_EQ(v1.outlier->consecutive_5xx, 2u);
}

TEST(TrafficPolicyTest, PortLevelSettingsOfTopAndSubsetMergeAsInIstio) {
  TranslateResult r = translateYaml(withRule(kRoutes, R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    outlierDetection: {consecutive5xxErrors: 2}
    portLevelSettings:
    - port: {number: 81}
      connectionPool: {tcp: {maxConnections: 3}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
      portLevelSettings:
      - port: {number: 81}
        connectionPool: {tcp: {maxConnections: 5}}
)"));
  // Port 81 at the top level: the port entry replaces all four blocks (no lb, no outlier).
  const Cluster& p81 = clusterOf(r, "outbound|81||web.default.svc.cluster.local");
  EXPECT_EQ(p81.pool.max_connections, 3u);
  EXPECT_EQ(p81.lb, LbPolicy::kLeastRequest);
  EXPECT_FALSE(p81.outlier.has_value());
  // Subset v1 on port 80: its loadBalancer over the top level's; outlier from the top.
  const Cluster& v1p80 = clusterOf(r, "outbound|80|v1|web.default.svc.cluster.local");
  EXPECT_EQ(v1p80.lb, LbPolicy::kRoundRobin);
  EXPECT_TRUE(v1p80.outlier.has_value());
  // Subset v1 on port 81: the subset's port entry decides all four blocks, even the unset lb.
  const Cluster& v1p81 = clusterOf(r, "outbound|81|v1|web.default.svc.cluster.local");
  EXPECT_EQ(v1p81.pool.max_connections, 5u);
  EXPECT_EQ(v1p81.lb, LbPolicy::kLeastRequest);
  EXPECT_FALSE(v1p81.outlier.has_value());
}

TEST(TrafficPolicyTest, ConsistentHashKeysAndTables) {
  TranslateResult r = translateYaml(withRule(kRoutes, R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie:
          name: session
          path: /
          ttl: 60s
          attributes: [{name: SameSite, value: Strict}, {name: Secure}]
        ringHash: {minimumRingSize: 2048}
    portLevelSettings:
    - port: {number: 81}
      loadBalancer:
        consistentHash: {httpHeaderName: X-User, maglev: {tableSize: 251}}
)"));
  const Cluster& c = clusterOf(r, "outbound|80||web.default.svc.cluster.local");
  ASSERT_TRUE(c.hash.has_value());
  EXPECT_EQ(c.hash->key, HashPolicy::Key::kCookie);
  EXPECT_EQ(c.hash->name, "session");
  EXPECT_EQ(c.hash->cookie_path, "/");
  EXPECT_EQ(c.hash->cookie_ttl, Millis(60000));
  EXPECT_EQ(c.hash->cookie_attributes, (std::vector<std::pair<std::string, std::string>>{
                                           {"SameSite", "Strict"}, {"Secure", ""}}));
  EXPECT_FALSE(c.hash->maglev);
  EXPECT_EQ(c.hash->table_size, 2048u);
  const Cluster& h = clusterOf(r, "outbound|81||web.default.svc.cluster.local");
  ASSERT_TRUE(h.hash.has_value());
  EXPECT_EQ(h.hash->key, HashPolicy::Key::kHeader);
  EXPECT_EQ(h.hash->name, "x-user");
  EXPECT_TRUE(h.hash->maglev);
  EXPECT_EQ(h.hash->table_size, 251u);
}

TEST(TrafficPolicyTest, LocalitySettingsNeedOutlierDetection) {
  TranslateResult r = translateYaml(withRule(kRoutes, R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failover: [{from: r1, to: r2}]
      warmup: {duration: 30s, minimumPercent: 20, aggression: 2}
    portLevelSettings:
    - port: {number: 81}
      outlierDetection: {consecutive5xxErrors: 1}
      loadBalancer:
        localityLbSetting:
          distribute: [{from: "r1/*", to: {"r1/*": 80, "r2/*": 20}}]
)"));
  const Cluster& p80 = clusterOf(r, "outbound|80||web.default.svc.cluster.local");
  EXPECT_FALSE(p80.locality_lb.has_value());  // no outlierDetection: no locality balancing
  ASSERT_TRUE(p80.warmup.has_value());
  EXPECT_EQ(p80.warmup->duration, Millis(30000));
  EXPECT_DOUBLE_EQ(p80.warmup->min_percent, 20);
  EXPECT_DOUBLE_EQ(p80.warmup->aggression, 2);
  const Cluster& p81 = clusterOf(r, "outbound|81||web.default.svc.cluster.local");
  ASSERT_TRUE(p81.locality_lb.has_value());
  ASSERT_EQ(p81.locality_lb->distribute.size(), 1u);
  EXPECT_EQ(p81.locality_lb->distribute[0].from, "r1/*");
  EXPECT_EQ(p81.locality_lb->distribute[0].to,
            (std::vector<std::pair<std::string, uint32_t>>{{"r1/*", 80}, {"r2/*", 20}}));
}

TEST(TrafficPolicyTest, LocalityFromTopologyLabels) {
  EXPECT_EQ(localityFromLabels({}), "");
  EXPECT_EQ(localityFromLabels({{"topology.kubernetes.io/region", "eu"}}), "eu");
  EXPECT_EQ(localityFromLabels({{"topology.kubernetes.io/region", "eu"},
                                {"topology.kubernetes.io/zone", "eu-1"},
                                {"topology.istio.io/subzone", "rack7"}}),
            "eu/eu-1/rack7");
}

}  // namespace
}  // namespace halyard::translate
