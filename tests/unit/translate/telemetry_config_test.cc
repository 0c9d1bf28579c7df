// MeshConfig tracing providers and the Telemetry API, resolved per proxy (issue 14).
#include "translate/telemetry_config.h"

#include <gtest/gtest.h>

#include <variant>

#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using testing::parseConfig;

constexpr std::string_view kMesh = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    defaultConfig:
      tracing: {sampling: 5}
    extensionProviders:
    - name: zipkin
      zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411, maxTagLength: 64}
    - name: otel
      opentelemetry:
        service: observability/otel-collector.example.com
        port: 4318
        http: {path: /custom/traces}
    - name: broken
      zipkin: {service: zipkin.example.com}
    - name: file
      envoyFileAccessLog: {path: /dev/stdout}
)";

constexpr std::string_view kTelemetry = R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 10
    customTags:
      team: {literal: {value: platform}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  tracing:
  - randomSamplingPercentage: 50
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews, namespace: shop}
spec:
  selector:
    matchLabels: {app: reviews}
  tracing:
  - providers: [{name: otel}]
    customTags:
      tenant: {header: {name: X-Tenant, defaultValue: none}}
      region: {environment: {name: REGION}}
)";

TEST(MeshTelemetry, ReadsZipkinAndOpenTelemetryProviders) {
  const auto config = parseConfig(std::string(kMesh));
  const MeshTelemetry mesh = readMeshTelemetry(config);
  ASSERT_EQ(mesh.tracing_providers.count("zipkin"), 1u);
  const TracingProvider& z = mesh.tracing_providers.at("zipkin");
  EXPECT_EQ(z.kind, TracingProvider::Kind::kZipkin);
  EXPECT_EQ(z.host, "zipkin.istio-system.svc.cluster.local");
  EXPECT_EQ(z.port, 9411);
  EXPECT_EQ(z.path, "/api/v2/spans");
  EXPECT_EQ(z.max_tag_length, 64u);
  const TracingProvider& o = mesh.tracing_providers.at("otel");
  EXPECT_EQ(o.kind, TracingProvider::Kind::kOpenTelemetry);
  EXPECT_EQ(o.host, "otel-collector.example.com");  // "namespace/host" as Istio writes it
  EXPECT_EQ(o.port, 4318);
  EXPECT_EQ(o.path, "/custom/traces");
  EXPECT_EQ(mesh.tracing_providers.count("broken"), 0u);
  ASSERT_EQ(mesh.problems.size(), 1u);
  EXPECT_NE(mesh.problems[0].find("broken"), std::string::npos);
  EXPECT_EQ(mesh.access_log_files.at("file"), "/dev/stdout");
  EXPECT_EQ(mesh.default_sampling, 5);
}

TEST(MeshTelemetry, NoTelemetryAndNoDefaultProvidersMeansNoTracing) {
  const auto config = parseConfig(std::string(kMesh));
  EXPECT_EQ(resolveTracing(config, readMeshTelemetry(config), "istio-system", "shop", {}), nullptr);
}

TEST(MeshTelemetry, TheImplicitCollectorServesOnlyWhenMeshConfigDeclaresNoProvider) {
  TracingProvider control;
  control.name = "halyard-control";
  control.host = "127.0.0.1";
  control.port = 15011;
  control.path = "/api/v2/spans";
  setImplicitTracingCollector(control);
  // Nothing declared: the control plane's collector at Istio's default 1%, or a Telemetry's
  // sampling; disableSpanReporting still turns it off.
  const auto bare = parseConfig("");
  auto t = resolveTracing(bare, readMeshTelemetry(bare), "istio-system", "shop", {});
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->providers.size(), 1u);
  EXPECT_EQ(t->providers[0].name, "halyard-control");
  EXPECT_EQ(t->providers[0].port, 15011);
  EXPECT_EQ(t->sampling_percentage, 1.0);
  const auto sampled = parseConfig(R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - randomSamplingPercentage: 100
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: quiet, namespace: quiet}
spec:
  tracing:
  - disableSpanReporting: true
)");
  t = resolveTracing(sampled, readMeshTelemetry(sampled), "istio-system", "shop", {});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->sampling_percentage, 100.0);
  EXPECT_EQ(resolveTracing(sampled, readMeshTelemetry(sampled), "istio-system", "quiet", {}),
            nullptr);
  // A declared provider keeps priority, even when nothing selects it.
  const auto declared = parseConfig(std::string(kMesh));
  EXPECT_EQ(resolveTracing(declared, readMeshTelemetry(declared), "istio-system", "shop", {}),
            nullptr);
  setImplicitTracingCollector(std::nullopt);
  EXPECT_EQ(resolveTracing(bare, readMeshTelemetry(bare), "istio-system", "shop", {}), nullptr);
}

TEST(MeshTelemetry, MeshNamespaceAndWorkloadScopesOverrideFieldByField) {
  const auto config = parseConfig(std::string(kMesh) + std::string(kTelemetry));
  const MeshTelemetry mesh = readMeshTelemetry(config);

  // Another namespace: the mesh-wide Telemetry alone.
  auto other = resolveTracing(config, mesh, "istio-system", "default", {{"app", "web"}});
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(other->providers.size(), 1u);
  EXPECT_EQ(other->providers[0].name, "zipkin");
  EXPECT_EQ(other->sampling_percentage, 10);
  ASSERT_EQ(other->custom_tags.size(), 1u);
  EXPECT_EQ(other->custom_tags[0].tag, "team");

  // shop: the namespace's sampling over the mesh's providers and tags.
  auto shop = resolveTracing(config, mesh, "istio-system", "shop", {{"app", "ratings"}});
  ASSERT_NE(shop, nullptr);
  EXPECT_EQ(shop->providers[0].name, "zipkin");
  EXPECT_EQ(shop->sampling_percentage, 50);
  EXPECT_EQ(shop->origin, "Telemetry istio-system/mesh-default, shop/shop");

  // reviews in shop: its own providers and tags, the namespace's sampling.
  auto reviews = resolveTracing(config, mesh, "istio-system", "shop", {{"app", "reviews"}});
  ASSERT_NE(reviews, nullptr);
  ASSERT_EQ(reviews->providers.size(), 1u);
  EXPECT_EQ(reviews->providers[0].name, "otel");
  EXPECT_EQ(reviews->sampling_percentage, 50);
  ASSERT_EQ(reviews->custom_tags.size(), 2u);
  EXPECT_EQ(reviews->custom_tags[0].tag, "tenant");
  EXPECT_EQ(reviews->custom_tags[0].kind, TracingCustomTag::Kind::kHeader);
  EXPECT_EQ(reviews->custom_tags[0].value, "x-tenant");
  EXPECT_EQ(reviews->custom_tags[0].default_value, "none");
  EXPECT_EQ(reviews->custom_tags[1].kind, TracingCustomTag::Kind::kEnvironment);
}

// A Telemetry written without metadata.namespace is in "default", as kubectl would put it:
// it applies to the proxies of that namespace and no other.
TEST(MeshTelemetry, ATelemetryWithoutANamespaceIsInTheDefaultNamespace) {
  const auto config = parseConfig(std::string(kMesh) + R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: unplaced}
spec:
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 30
)");
  const MeshTelemetry mesh = readMeshTelemetry(config);
  auto in_default = resolveTracing(config, mesh, "istio-system", "default", {{"app", "web"}});
  ASSERT_NE(in_default, nullptr);
  EXPECT_EQ(in_default->sampling_percentage, 30);
  EXPECT_EQ(in_default->origin, "Telemetry default/unplaced");
  auto elsewhere = resolveTracing(config, mesh, "istio-system", "shop", {{"app", "web"}});
  EXPECT_TRUE(elsewhere == nullptr || elsewhere->sampling_percentage != 30);
}

TEST(MeshTelemetry, AnUnknownProviderIsReportedAndLeftOut) {
  const auto config = parseConfig(std::string(kMesh) + R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: jaeger}]
)");
  std::vector<std::string> problems;
  EXPECT_EQ(
      resolveTracing(config, readMeshTelemetry(config), "istio-system", "shop", {}, &problems),
      nullptr);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("\"jaeger\""), std::string::npos);
}

TEST(MeshTelemetry, EveryTracingEntryAppliesToTheSidesItsModeNames) {
  const auto config = parseConfig(std::string(kMesh) + R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    customTags:
      team: {literal: {value: storefront}}
  - match: {mode: CLIENT}
    providers: [{name: otel}]
    randomSamplingPercentage: 30
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: quiet, namespace: quiet}
spec:
  tracing:
  - match: {mode: SERVER}
    disableSpanReporting: true
  - randomSamplingPercentage: 80
)");
  const MeshTelemetry mesh = readMeshTelemetry(config);
  std::vector<std::string> problems;
  auto shop = resolveTracingSides(config, mesh, "istio-system", "shop", {}, &problems);
  EXPECT_TRUE(problems.empty()) << problems[0];
  ASSERT_NE(shop.client, nullptr);
  ASSERT_NE(shop.server, nullptr);
  ASSERT_EQ(shop.client->providers.size(), 1u);
  EXPECT_EQ(shop.client->providers[0].name, "otel");
  EXPECT_EQ(shop.client->sampling_percentage, 30);
  EXPECT_EQ(shop.client->custom_tags.size(), 1u);  // the first entry's, both sides
  ASSERT_EQ(shop.server->providers.size(), 1u);
  EXPECT_EQ(shop.server->providers[0].name, "zipkin");
  EXPECT_EQ(shop.server->sampling_percentage, 5);  // MeshConfig defaultConfig.tracing.sampling
  // quiet: SERVER spans off, and a later entry that does not say so leaves them off.
  auto quiet = resolveTracingSides(config, mesh, "istio-system", "quiet", {});
  EXPECT_EQ(quiet.server, nullptr);
  ASSERT_NE(quiet.client, nullptr);
  EXPECT_EQ(quiet.client->sampling_percentage, 80);
  // No entry names a side: one settings object for both.
  auto plain = resolveTracingSides(parseConfig(std::string(kMesh) + std::string(kTelemetry)), mesh,
                                   "istio-system", "default", {});
  EXPECT_EQ(plain.client, plain.server);
}

// useRequestIdForTraceSampling: Istio's default true; a narrower scope's entry overrides it
// field by field like the other tracing fields, per side.
TEST(MeshTelemetry, UseRequestIdForTraceSamplingDefaultsToTrueAndNarrowerScopesOverrideIt) {
  const auto config = parseConfig(std::string(kMesh) + R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  tracing:
  - useRequestIdForTraceSampling: false
    randomSamplingPercentage: 50
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews, namespace: shop}
spec:
  selector:
    matchLabels: {app: reviews}
  tracing:
  - match: {mode: SERVER}
    useRequestIdForTraceSampling: true
)");
  const MeshTelemetry mesh = readMeshTelemetry(config);
  auto other = resolveTracing(config, mesh, "istio-system", "default", {});
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->sample_by_request_id);
  auto ratings = resolveTracing(config, mesh, "istio-system", "shop", {{"app", "ratings"}});
  ASSERT_NE(ratings, nullptr);
  EXPECT_FALSE(ratings->sample_by_request_id);
  EXPECT_EQ(ratings->sampling_percentage, 50);
  const TracingSides reviews =
      resolveTracingSides(config, mesh, "istio-system", "shop", {{"app", "reviews"}});
  ASSERT_NE(reviews.client, nullptr);
  ASSERT_NE(reviews.server, nullptr);
  EXPECT_FALSE(reviews.client->sample_by_request_id);
  EXPECT_TRUE(reviews.server->sample_by_request_id);
}

TEST(MeshTelemetry, TracingFieldsThatAreNotServedAreReportedWithTheirPlace) {
  const auto config = parseConfig(std::string(kMesh) + R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    disableContextPropagation: true
    enableIstioTags: false
    customTags:
      team: {literal: {value: storefront}}
      route: {formatter: {value: "%ROUTE_NAME%"}}
  - match: {mode: SIDEWAYS}
)");
  std::vector<std::string> problems;
  auto t = resolveTracing(config, readMeshTelemetry(config), "istio-system", "shop", {}, &problems);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->custom_tags.size(), 1u);
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].find("test.yaml:"), 0u) << problems[0];
  EXPECT_NE(problems[0].find("Telemetry istio-system/mesh-default "
                             "spec.tracing[0].disableContextPropagation: true is not served"),
            std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find("spec.tracing[0].enableIstioTags: false"), std::string::npos)
      << problems[1];
  EXPECT_NE(problems[2].find("spec.tracing[0].customTags.route: only literal, header and "
                             "environment"),
            std::string::npos)
      << problems[2];
  EXPECT_NE(problems[3].find("spec.tracing[1].match.mode: \"SIDEWAYS\" is not a mode"),
            std::string::npos)
      << problems[3];
}

TEST(MeshTelemetry, GatewayListenersCarryTheTracing) {
  const auto config = parseConfig(std::string(kMesh) + std::string(kTelemetry) + R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
)");
  auto result = buildSnapshot(config, ProxyIdentity{}, 1);
  const Snapshot& s = testing::snapshotOf(result);
  ASSERT_FALSE(s.listeners.empty());
  ASSERT_NE(s.listeners[0].tracing, nullptr);
  EXPECT_EQ(s.listeners[0].tracing->providers[0].name, "zipkin");
}

// A collector that is a service of the mesh is reached at its endpoint (there is no DNS name
// zipkin.istio-system.svc.cluster.local outside Kubernetes); one outside the registry keeps its
// name for DNS.
TEST(MeshTelemetry, CollectorsOfTheRegistryAreReachedAtTheirEndpoints) {
  const auto config = parseConfig(std::string(kMesh) + std::string(kTelemetry) + R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: v1
kind: Service
metadata: {name: zipkin, namespace: istio-system}
spec:
  ports: [{name: http-query, port: 9411, targetPort: 19411}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: zipkin, namespace: istio-system}
subsets:
- addresses: [{ip: 127.0.0.7}]
  ports: [{name: http-query, port: 19411}]
)");
  auto result = buildSnapshot(config, ProxyIdentity{}, 1);
  const Snapshot& s = testing::snapshotOf(result);
  ASSERT_FALSE(s.listeners.empty());
  ASSERT_NE(s.listeners[0].tracing, nullptr);
  const TracingProvider& zipkin = s.listeners[0].tracing->providers[0];
  EXPECT_EQ(zipkin.host, "127.0.0.7");
  EXPECT_EQ(zipkin.port, 19411);

  auto without = buildSnapshot(parseConfig(std::string(kMesh) + std::string(kTelemetry) + R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
)"),
                               ProxyIdentity{}, 1);
  const Snapshot& plain = testing::snapshotOf(without);
  ASSERT_NE(plain.listeners[0].tracing, nullptr);
  EXPECT_EQ(plain.listeners[0].tracing->providers[0].host, "zipkin.istio-system.svc.cluster.local");
  EXPECT_EQ(plain.listeners[0].tracing->providers[0].port, 9411);
}

}  // namespace
}  // namespace halyard::translate

namespace halyard::translate {
namespace {

TEST(ListenerTelemetry, MetricsOverridesAndAccessLogFilter) {
  const auto config = testing::parseConfig(R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_SIZE, mode: CLIENT_AND_SERVER}
      disabled: true
    - match: {metric: RESPONSE_SIZE, mode: SERVER}
      disabled: true
    - match: {metric: ALL_METRICS}
      tagOverrides:
        request_protocol: {operation: REMOVE}
        request_host: {value: "request.host"}
        tenant: {operation: UPSERT, value: "'x' + request.host"}
  accessLogging:
  - providers: [{name: envoy}]
    filter:
      expression: response.code >= 400 && response.code != 404 || response.code == 200
)");
  std::vector<std::string> problems;
  auto t = resolveListenerTelemetry(config, "istio-system", "shop", {}, &problems);
  ASSERT_NE(t, nullptr);
  using M = IstioMetric;
  EXPECT_TRUE(t->client.disabled[static_cast<size_t>(M::kRequestSize)]);
  EXPECT_TRUE(t->server.disabled[static_cast<size_t>(M::kRequestSize)]);
  EXPECT_FALSE(t->client.disabled[static_cast<size_t>(M::kResponseSize)]);
  EXPECT_TRUE(t->server.disabled[static_cast<size_t>(M::kResponseSize)]);
  EXPECT_FALSE(t->client.disabled[static_cast<size_t>(M::kRequestCount)]);
  // request_protocol is removed from every metric; request_host is an UPSERT (Istio's default
  // operation) of every metric; both sides, in that order.
  for (const MetricsSide* side : {&t->client, &t->server}) {
    ASSERT_EQ(side->upserts.size(), 2u);
    EXPECT_EQ(side->upserts[0].tag, "request_protocol");
    EXPECT_TRUE(side->upserts[0].remove);
    EXPECT_TRUE(side->upserts[0].metrics[static_cast<size_t>(M::kTcpSentBytes)]);
    EXPECT_EQ(side->upserts[1].tag, "request_host");
    EXPECT_FALSE(side->upserts[1].remove);
    EXPECT_EQ(side->upserts[1].value, "request.host");
    EXPECT_TRUE(side->upserts[1].metrics[static_cast<size_t>(M::kRequestCount)]);
  }
  // A value outside the subset, named by file:line and field.
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].find("test.yaml:"), 0u) << problems[0];
  EXPECT_NE(problems[0].find("Telemetry istio-system/mesh-default "
                             "spec.metrics[0].overrides[2].tagOverrides.tenant.value: "),
            std::string::npos)
      << problems[0];
  for (bool inbound : {false, true}) {
    EXPECT_TRUE(t->logs(inbound, "envoy", 503));
    EXPECT_FALSE(t->logs(inbound, "envoy", 404));
    EXPECT_TRUE(t->logs(inbound, "envoy", 200));
    EXPECT_FALSE(t->logs(inbound, "envoy", 302));
  }
}

TEST(ListenerTelemetry, MetricsOverridesOfEveryScopeApplyInOrder) {
  const std::string telemetry = R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - overrides:
    - match: {metric: REQUEST_COUNT}
      disabled: true
    - tagOverrides:
        team: {value: "'mesh'"}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  metrics:
  - overrides:
    - match: {metric: REQUEST_COUNT, mode: SERVER}
      disabled: false
    - match: {metric: REQUEST_DURATION}
      tagOverrides:
        team: {value: "'shop'"}
    - match: {mode: CLIENT}
      tagOverrides:
        request_protocol: {operation: REMOVE}
    - match: {customMetric: my_metric}
      disabled: true
)";
  std::vector<std::string> problems;
  auto t = resolveListenerTelemetry(parseConfig(telemetry), "istio-system", "shop", {}, &problems);
  ASSERT_NE(t, nullptr);
  using M = IstioMetric;
  const auto count = static_cast<size_t>(M::kRequestCount);
  const auto duration = static_cast<size_t>(M::kRequestDuration);
  EXPECT_TRUE(t->client.disabled[count]);   // the mesh's
  EXPECT_FALSE(t->server.disabled[count]);  // turned on again by the namespace, SERVER only
  EXPECT_FALSE(t->client.disabled[duration]);
  // team: the mesh's value everywhere but REQUEST_DURATION, which takes the namespace's.
  for (const MetricsSide* side : {&t->client, &t->server}) {
    ASSERT_GE(side->upserts.size(), 2u);
    EXPECT_EQ(side->upserts[0].value, "'mesh'");
    EXPECT_TRUE(side->upserts[0].metrics[count]);
    EXPECT_FALSE(side->upserts[0].metrics[duration]);
    EXPECT_EQ(side->upserts[1].value, "'shop'");
    EXPECT_TRUE(side->upserts[1].metrics[duration]);
    EXPECT_FALSE(side->upserts[1].metrics[count]);
  }
  // The CLIENT-only REMOVE: on the client side, every metric; nothing on the server side.
  ASSERT_EQ(t->client.upserts.size(), 3u);
  EXPECT_EQ(t->client.upserts[2].tag, "request_protocol");
  EXPECT_TRUE(t->client.upserts[2].remove);
  EXPECT_TRUE(t->client.upserts[2].metrics[count]);
  EXPECT_EQ(t->server.upserts.size(), 2u);
  // A custom metric is said, not applied to every metric.
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("Telemetry shop/shop spec.metrics[0].overrides[3].match.customMetric"),
            std::string::npos)
      << problems[0];
  EXPECT_FALSE(t->client.disabled[static_cast<size_t>(M::kRequestSize)]);
}

TEST(ListenerTelemetry, AllMetricsOffAtTheMeshUntilANarrowerTelemetryOverridesOne) {
  const std::string telemetry = R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - overrides:
    - match: {metric: ALL_METRICS}
      disabled: true
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  metrics:
  - overrides:
    - match: {metric: REQUEST_SIZE}
      disabled: true
)";
  const auto config = parseConfig(telemetry);
  auto other = resolveListenerTelemetry(config, "istio-system", "other", {});
  ASSERT_NE(other, nullptr);
  for (bool d : other->client.disabled) EXPECT_TRUE(d);
  for (bool d : other->server.disabled) EXPECT_TRUE(d);
  // shop: on again, as in Istio, but for the size it turns off itself.
  auto shop = resolveListenerTelemetry(config, "istio-system", "shop", {});
  ASSERT_NE(shop, nullptr);
  EXPECT_FALSE(shop->client.disabled[static_cast<size_t>(IstioMetric::kRequestCount)]);
  EXPECT_TRUE(shop->server.disabled[static_cast<size_t>(IstioMetric::kRequestSize)]);
}

TEST(ListenerTelemetry, AnExpressionOutsideTheSubsetLogsEverything) {
  EXPECT_FALSE(parseAccessLogFilter("request.headers[''] == 'y'"));
  EXPECT_FALSE(parseAccessLogFilter("size(request.path) > 3"));
  EXPECT_FALSE(parseAccessLogFilter("response.code >= "));
  EXPECT_FALSE(parseAccessLogFilter("response.code == 200 &&"));
  EXPECT_FALSE(parseAccessLogFilter(""));
  ASSERT_TRUE(parseAccessLogFilter("response.code >= 500"));
  AccessLogAttributes a;
  a.response_code = 199;
  EXPECT_TRUE(parseAccessLogFilter("(response.code < 200)")->matches(a));
}

TEST(ListenerTelemetry, TheAccessLogFilterEvaluatesTheCelSubset) {
  AccessLogAttributes get;
  get.response_code = 200;
  get.method = "GET";
  get.path = "/api/v1/items?page=2";
  get.host = "shop.example.com";
  get.user_agent = "curl/8.0";
  get.mtls = true;
  AccessLogAttributes post = get;
  post.method = "POST";
  post.path = "/health";
  post.response_code = 503;
  post.mtls = false;
  auto matches = [](const char* expression, const AccessLogAttributes& a) {
    auto f = parseAccessLogFilter(expression);
    EXPECT_TRUE(f) << expression;
    return f && f->matches(a);
  };
  EXPECT_TRUE(matches("request.method == 'GET'", get));
  EXPECT_FALSE(matches("request.method == \"GET\"", post));
  EXPECT_TRUE(matches("request.url_path == '/api/v1/items'", get));
  EXPECT_TRUE(matches("request.path.startsWith('/api/')", get));
  EXPECT_FALSE(matches("request.url_path.startsWith('/api/')", post));
  EXPECT_TRUE(matches("request.headers['User-Agent'].startsWith('curl')", get));
  EXPECT_TRUE(matches("request.headers['host'] == 'shop.example.com'", get));
  EXPECT_TRUE(matches("connection.mtls", get));
  EXPECT_TRUE(matches("!connection.mtls", post));
  EXPECT_TRUE(matches("connection.mtls == false", post));
  EXPECT_TRUE(matches("response.code >= 500 || request.method != 'GET'", post));
  EXPECT_FALSE(matches("response.code >= 500 || request.method != 'GET'", get));
  EXPECT_TRUE(matches("!(request.url_path == '/health' && response.code < 400)", post));
  EXPECT_FALSE(matches("!request.url_path.startsWith('/health') && response.code >= 500", post));
  EXPECT_FALSE(matches("response.code == 'x'", get));  // different types: false
}

TEST(ListenerTelemetry, FiltersReadEveryRequestHeader) {
  // The headers a request carries, as the connection manager's view answers them.
  struct Headers {
    static std::optional<std::string_view> find(const void*, std::string_view name) {
      if (name == "x-tenant") return std::string_view("gold");
      return std::nullopt;
    }
  };
  AccessLogAttributes a;
  a.headers = {nullptr, &Headers::find};
  auto f = parseAccessLogFilter("request.headers['X-Tenant'] == 'gold'");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->matches(a));
  EXPECT_TRUE(parseAccessLogFilter("request.headers['x-absent'] == ''")->matches(a));
  EXPECT_FALSE(parseAccessLogFilter("request.headers['x-tenant'].startsWith('s')")->matches(a));
}

TEST(ListenerTelemetry, TagValuesEvaluateTheSubset) {
  struct Headers {
    static std::optional<std::string_view> find(const void*, std::string_view name) {
      if (name == "x-user") return std::string_view("alice");
      return std::nullopt;
    }
  };
  AccessLogAttributes a;
  a.response_code = 503;
  a.method = "GET";
  a.host = "shop.example.com";
  a.path = "/cart?x=1";
  a.mtls = true;
  a.headers = {nullptr, &Headers::find};
  auto value = [&a](const char* expression) {
    auto v = parseAttributeValue(expression);
    EXPECT_TRUE(v) << expression;
    std::string out;
    if (v) v->appendValue(out, a);
    return out;
  };
  EXPECT_EQ(value("request.host"), "shop.example.com");
  EXPECT_EQ(value("request.headers['x-user']"), "alice");
  EXPECT_EQ(value("request.headers['x-none']"), "");
  EXPECT_EQ(value("request.headers['x-none'] | 'anonymous'"), "anonymous");
  EXPECT_EQ(value("request.headers['x-user'] | 'anonymous'"), "alice");
  EXPECT_EQ(value("'literal'"), "literal");
  EXPECT_EQ(value("response.code"), "503");
  EXPECT_EQ(value("string(response.code)"), "503");
  EXPECT_EQ(value("connection.mtls"), "true");
  EXPECT_EQ(value("request.url_path"), "/cart");
  EXPECT_EQ(value("response.code >= 500 ? 'error' : 'ok'"), "error");
  EXPECT_EQ(value("request.method == 'POST' ? 'write' : request.method"), "GET");
  EXPECT_FALSE(parseAttributeValue("size(request.host)"));
  EXPECT_FALSE(parseAttributeValue("request.host +"));
  EXPECT_FALSE(parseAttributeValue(""));
}

constexpr std::string_view kLoggingMesh = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: /var/log/all.log
    accessLogEncoding: JSON
    defaultProviders:
      accessLogging: [plain]
    extensionProviders:
    - name: plain
      envoyFileAccessLog: {path: /tmp/plain.log}
    - name: custom
      envoyFileAccessLog:
        path: /tmp/custom.log
        logFormat: {text: "%REQ(:METHOD)% %REQ(X-USER?USER-AGENT)% %RESPONSE_CODE%"}
    - name: json
      envoyFileAccessLog:
        path: /tmp/json.log
        logFormat:
          labels: {code: "%RESPONSE_CODE%", user: "%REQ(x-user)%"}
    - name: broken
      envoyFileAccessLog:
        path: /tmp/broken.log
        logFormat: {text: "%NOT_A_COMMAND%"}
)";

TEST(ListenerTelemetry, AccessLogProvidersComeFromTheTelemetryElseTheDefaults) {
  const std::string telemetry = R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  accessLogging:
  - providers: [{name: custom}, {name: json}, {name: envoy}, {name: broken}, {name: nope}]
)";
  const auto config = parseConfig(std::string(kLoggingMesh) + telemetry);
  const MeshTelemetry mesh = readMeshTelemetry(config);
  std::vector<std::string> problems;
  auto t = resolveListenerTelemetry(config, "istio-system", "shop", {}, &problems, &mesh);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->access_log_providers.size(), 4u);
  using E = AccessLogProvider::Encoding;
  const AccessLogProvider& custom = t->access_log_providers[0];
  EXPECT_EQ(custom.path, "/tmp/custom.log");
  EXPECT_EQ(custom.encoding, E::kText);
  ASSERT_NE(custom.compiled, nullptr);
  EXPECT_FALSE(custom.compiled->json());
  const AccessLogProvider& json = t->access_log_providers[1];
  EXPECT_EQ(json.encoding, E::kLabels);
  ASSERT_NE(json.compiled, nullptr);
  ASSERT_EQ(json.compiled->labels().size(), 2u);
  EXPECT_EQ(json.compiled->labels()[0].first, "code");
  // The built-in envoy writes to accessLogFile in accessLogEncoding.
  EXPECT_EQ(t->access_log_providers[2].path, "/var/log/all.log");
  EXPECT_EQ(t->access_log_providers[2].encoding, E::kDefaultJson);
  // An unusable format keeps the default one; an unknown provider is left out. Both said.
  EXPECT_EQ(t->access_log_providers[3].encoding, E::kDefaultText);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("%NOT_A_COMMAND%"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("\"nope\""), std::string::npos) << problems[1];

  // Another namespace has no Telemetry: MeshConfig's defaultProviders.
  auto other = resolveListenerTelemetry(config, "istio-system", "other", {}, nullptr, &mesh);
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(other->access_log_providers.size(), 1u);
  EXPECT_EQ(other->access_log_providers[0].path, "/tmp/plain.log");
  // Without MeshConfig nothing is resolved (no telemetry at all).
  EXPECT_EQ(resolveListenerTelemetry(parseConfig(std::string(telemetry).substr(4)), "istio-system",
                                     "other", {}, nullptr, nullptr),
            nullptr);
}

TEST(ListenerTelemetry, AccessLogFileAloneLogsEveryProxyThroughTheBuiltInEnvoy) {
  const auto config = parseConfig(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: /dev/stdout
    accessLogFormat: "%REQ(:PATH)% %RESPONSE_CODE%"
)");
  const MeshTelemetry mesh = readMeshTelemetry(config);
  auto t = resolveListenerTelemetry(config, "istio-system", "shop", {}, nullptr, &mesh);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->access_log_providers.size(), 1u);
  EXPECT_EQ(t->access_log_providers[0].name, "envoy");
  EXPECT_EQ(t->access_log_providers[0].path, "/dev/stdout");
  EXPECT_EQ(t->access_log_providers[0].encoding, AccessLogProvider::Encoding::kText);
  ASSERT_EQ(t->client_logs.size(), 1u);
  ASSERT_EQ(t->server_logs.size(), 1u);
  EXPECT_EQ(t->server_logs[0].provider.path, "/dev/stdout");
  EXPECT_TRUE(t->logs(false, "envoy", 404));
}

// The names of a side's sinks, in order ("" for the proxy's own log), each with its filter.
std::vector<std::string> sinksOf(const ListenerTelemetry& t, bool inbound) {
  std::vector<std::string> out;
  for (const auto& sink : t.logsOf(inbound)) {
    out.push_back((sink.own_log ? std::string() : sink.provider.name) +
                  (sink.filter.empty() ? "" : " if " + sink.filter));
  }
  return out;
}

using Names = std::vector<std::string>;

std::shared_ptr<const ListenerTelemetry> loggingOf(const std::string& telemetry,
                                                   const std::map<std::string, std::string>& labels,
                                                   std::vector<std::string>* problems = nullptr,
                                                   std::string_view mesh_yaml = kLoggingMesh) {
  const auto config = parseConfig(std::string(mesh_yaml) + telemetry);
  const MeshTelemetry mesh = readMeshTelemetry(config);
  return resolveListenerTelemetry(config, "istio-system", "shop", labels, problems, &mesh);
}

TEST(ListenerTelemetry, EveryAccessLoggingEntryAppliesWithItsProvidersModeAndFilter) {
  std::vector<std::string> problems;
  auto t = loggingOf(R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: plain}]
  - match: {mode: SERVER}
    providers: [{name: custom}]
    filter: {expression: response.code >= 500}
  - match: {mode: CLIENT}
    providers: [{name: json}]
    filter: {expression: "request.method == 'POST'"}
)",
                     {}, &problems);
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(problems.empty()) << problems[0];
  EXPECT_EQ(sinksOf(*t, false), (Names{"plain", "json if request.method == 'POST'"}));
  EXPECT_EQ(sinksOf(*t, true), (Names{"plain", "custom if response.code >= 500"}));
  EXPECT_TRUE(t->logs(true, "custom", 503));
  EXPECT_FALSE(t->logs(true, "custom", 200));
  EXPECT_TRUE(t->logs(true, "plain", 200));
  EXPECT_FALSE(t->logs(false, "custom", 503));  // SERVER only
  // Each provider once, for both sides together (their paths).
  ASSERT_EQ(t->access_log_providers.size(), 3u);
  EXPECT_EQ(t->access_log_providers[0].path, "/tmp/plain.log");
}

TEST(ListenerTelemetry, AProviderNamedByTwoEntriesLogsOnceWithTheLaterFilter) {
  auto t = loggingOf(R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  accessLogging:
  - providers: [{name: plain}]
    filter: {expression: response.code >= 400}
  - providers: [{name: plain}, {name: custom}]
    match: {mode: SERVER}
    filter: {expression: response.code >= 500}
)",
                     {});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(sinksOf(*t, false), (Names{"plain if response.code >= 400"}));
  EXPECT_EQ(sinksOf(*t, true),
            (Names{"plain if response.code >= 500", "custom if response.code >= 500"}));
}

TEST(ListenerTelemetry, ANarrowerScopeReplacesTheProvidersItNamesForItsMode) {
  const std::string mesh_wide = R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: plain}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  accessLogging:
  - match: {mode: SERVER}
    providers: [{name: custom}]
)";
  auto t = loggingOf(mesh_wide, {});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(sinksOf(*t, false), (Names{"plain"}));  // the namespace names nothing for CLIENT
  EXPECT_EQ(sinksOf(*t, true), (Names{"custom"}));  // ... and replaces the mesh's for SERVER
  // A workload's entry without providers inherits the entry before it; disabled turns it off.
  const std::string workload = R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews, namespace: shop}
spec:
  selector:
    matchLabels: {app: reviews}
  accessLogging:
  - match: {mode: SERVER}
    disabled: true
)";
  auto reviews = loggingOf(mesh_wide + workload, {{"app", "reviews"}});
  ASSERT_NE(reviews, nullptr);
  EXPECT_EQ(sinksOf(*reviews, false), (Names{"plain"}));
  EXPECT_TRUE(sinksOf(*reviews, true).empty());
  // Other workloads of the namespace keep the namespace's.
  EXPECT_EQ(sinksOf(*loggingOf(mesh_wide + workload, {{"app", "ratings"}}), true),
            (Names{"custom"}));
}

TEST(ListenerTelemetry, AnEntryWithoutProvidersFiltersTheInheritedOnes) {
  const std::string telemetry = R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  accessLogging:
  - filter: {expression: response.code >= 500}
)";
  // MeshConfig defaultProviders.accessLogging: [plain].
  auto t = loggingOf(telemetry, {});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(sinksOf(*t, false), (Names{"plain if response.code >= 500"}));
  // No provider anywhere: the proxy's own --access-log, filtered.
  auto own = loggingOf(telemetry, {}, nullptr, "");
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(sinksOf(*own, true), (Names{" if response.code >= 500"}));
  EXPECT_TRUE(own->access_log_providers.empty());
  EXPECT_TRUE(own->logs(true, "", 503));
  EXPECT_FALSE(own->logs(true, "", 200));
  // An empty providers list names nothing either (Istio inherits); `disabled` is the switch.
  auto empty = loggingOf(R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  accessLogging:
  - providers: []
)",
                         {});
  EXPECT_EQ(sinksOf(*empty, false), (Names{"plain"}));
}

TEST(ListenerTelemetry, AnUnknownModeAndAnUnusableFilterAreReportedWithTheirPlace) {
  std::vector<std::string> problems;
  auto t = loggingOf(R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  accessLogging:
  - providers: [{name: plain}]
  - providers: [{name: custom}]
    match: {mode: SIDEWAYS}
    filter: {expression: "size(request.path) > 3"}
)",
                     {}, &problems);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].find("test.yaml:"), 0u) << problems[0];
  EXPECT_NE(problems[0].find("Telemetry shop/shop spec.accessLogging[1].match.mode: \"SIDEWAYS\""),
            std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find("spec.accessLogging[1].filter.expression"), std::string::npos)
      << problems[1];
  // Both apply to both sides, every request logged.
  EXPECT_EQ(sinksOf(*t, false), (Names{"plain", "custom"}));
  EXPECT_EQ(sinksOf(*t, true), (Names{"plain", "custom"}));
}

TEST(ListenerTelemetry, TargetRefsNameAGatewayApiGatewayNotEveryProxyOfTheNamespace) {
  const std::string telemetry = R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: edge, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
  accessLogging:
  - providers: [{name: custom}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: waypoint, namespace: shop}
spec:
  targetRef: {kind: Service, name: reviews}
  accessLogging:
  - providers: [{name: json}]
)";
  std::vector<std::string> problems;
  auto edge = loggingOf(telemetry, {{"gateway.networking.k8s.io/gateway-name", "edge"}}, &problems);
  ASSERT_NE(edge, nullptr);
  EXPECT_EQ(sinksOf(*edge, false), (Names{"custom"}));
  // Another proxy of the namespace: MeshConfig's defaults, neither Telemetry.
  auto web = loggingOf(telemetry, {{"app", "web"}});
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(sinksOf(*web, false), (Names{"plain"}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("Telemetry shop/waypoint spec.targetRef.kind: \"Service\" is not "
                             "served"),
            std::string::npos)
      << problems[0];
}

TEST(ListenerTelemetry, ProviderNamesMatchWithoutRegardToCaseAsInIstio) {
  auto t = loggingOf(R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: shop, namespace: shop}
spec:
  accessLogging:
  - providers: [{name: CUSTOM}, {name: Envoy}]
  - providers: [{name: custom}]
    match: {mode: SERVER}
    filter: {expression: response.code >= 500}
)",
                     {});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(sinksOf(*t, false), (Names{"custom", "envoy"}));
  EXPECT_EQ(sinksOf(*t, true), (Names{"custom if response.code >= 500", "envoy"}));
  EXPECT_EQ(t->access_log_providers.size(), 2u);
  const auto config = parseConfig(std::string(kMesh) + R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: ZipKin}]
)");
  std::vector<std::string> problems;
  auto tracing =
      resolveTracing(config, readMeshTelemetry(config), "istio-system", "shop", {}, &problems);
  ASSERT_NE(tracing, nullptr);
  ASSERT_EQ(tracing->providers.size(), 1u);
  EXPECT_EQ(tracing->providers[0].name, "zipkin");
  EXPECT_TRUE(problems.empty()) << problems[0];
}

TEST(AccessLogTemplate, CompilesEnvoyCommands) {
  auto ok = AccessLogTemplate::parseText("[%START_TIME%] %REQ(X-USER):3% 100%% %DURATION%\n");
  ASSERT_TRUE(std::holds_alternative<AccessLogTemplate>(ok));
  const auto& parts = std::get<AccessLogTemplate>(ok).text();
  ASSERT_EQ(parts.size(), 7u);
  EXPECT_EQ(parts[0].text, "[");
  EXPECT_EQ(parts[1].command, AccessLogTemplate::Command::kStartTime);
  EXPECT_EQ(parts[3].command, AccessLogTemplate::Command::kRequestHeader);
  EXPECT_EQ(parts[3].text, "x-user");
  EXPECT_EQ(parts[3].max_length, 3u);
  EXPECT_EQ(parts[4].text, " 100% ");
  auto bad = AccessLogTemplate::parseText("%RESPONSE_CODE");
  ASSERT_TRUE(std::holds_alternative<std::string>(bad));
  EXPECT_NE(std::get<std::string>(bad).find("never ends"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<std::string>(AccessLogTemplate::parseText("%RESP(x-a)%")));
}

}  // namespace
}  // namespace halyard::translate
