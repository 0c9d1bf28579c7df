#include <gtest/gtest.h>

#include <string_view>

#include "config/yaml/config_set_builder.h"
#include "config/yaml/istio_decode.h"
#include "config/yaml/kube_decode.h"
#include "config/yaml/loader.h"
#include "shared_corpus.h"

namespace halyard::config {
namespace {

// The one object in `text` (a test failure, and an empty Object, otherwise).
Object load(std::string_view text) {
  LoadResult r;
  loadText(text, "test.yaml", r);
  EXPECT_TRUE(r.diagnostics.empty());
  EXPECT_EQ(r.objects.size(), 1u);
  return r.objects.empty() ? Object{} : r.objects.front();
}

TEST(DecodeVirtualService, HttpRoutesMatchesAndPolicies) {
  auto vs = decodeVirtualService(load(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: prod
  labels: {app: reviews}
spec:
  hosts: [reviews, reviews.example.com]
  gateways: [mesh]
  http:
  - name: v2-for-jason
    match:
    - uri:
        prefix: /api
      headers:
        end-user: {exact: jason}
      ignoreUriCase: true
      port: 9080
    route:
    - destination:
        host: reviews
        subset: v2
        port: {number: 9080}
      weight: 80
    - destination: {host: reviews, subset: v1}
      weight: 20
      headers:
        request:
          set: {x-version: v1}
          remove: [x-debug]
    retries:
      attempts: 3
      perTryTimeout: 2s
      retryOn: 5xx,reset
    fault:
      delay:
        fixedDelay: 5s
        percentage: {value: 10.5}
      abort:
        httpStatus: 503
        percentage: {value: 1}
    mirror: {host: shadow}
    mirrorPercentage: {value: 25.0}
    mirror_percent: 7
    timeout: 10s
  tcp:
  - match: [{port: 27017}]
    route: [{destination: {host: mongo}}]
)"));
  EXPECT_EQ(vs.meta.name, "reviews");
  EXPECT_EQ(vs.meta.namespace_, "prod");
  EXPECT_EQ(vs.meta.labels.at("app"), "reviews");
  EXPECT_EQ(vs.meta.ref().str(), "VirtualService prod/reviews");
  EXPECT_EQ(vs.meta.pos.line, 1);
  EXPECT_EQ(vs.meta.pos.fileName(), "test.yaml");

  const auto& spec = vs.spec;
  EXPECT_EQ(spec.line, 8);
  EXPECT_EQ(spec.hosts, (std::vector<std::string>{"reviews", "reviews.example.com"}));
  EXPECT_EQ(spec.gateways, (std::vector<std::string>{"mesh"}));
  ASSERT_EQ(spec.http.size(), 1u);
  const auto& http = spec.http[0];
  EXPECT_EQ(http.line, 11);
  EXPECT_EQ(http.name, "v2-for-jason");

  ASSERT_EQ(http.match.size(), 1u);
  const auto& m = http.match[0];
  EXPECT_EQ(m.line, 13);
  ASSERT_TRUE(m.uri.has_value());
  EXPECT_EQ(m.uri->line, 14);
  EXPECT_EQ(m.uri->prefix, "/api");
  EXPECT_FALSE(m.uri->exact.has_value());
  EXPECT_EQ(m.headers.at("end-user").exact, "jason");
  EXPECT_EQ(m.headers.at("end-user").line, 16);
  EXPECT_EQ(m.ignore_uri_case, true);
  EXPECT_EQ(m.port, 9080);
  EXPECT_FALSE(m.method.has_value());

  ASSERT_EQ(http.route.size(), 2u);
  EXPECT_EQ(http.route[0].line, 20);
  EXPECT_EQ(http.route[0].destination->host, "reviews");
  EXPECT_EQ(http.route[0].destination->subset, "v2");
  EXPECT_EQ(http.route[0].destination->port->number, 9080);
  EXPECT_EQ(http.route[0].weight, 80);
  EXPECT_EQ(http.route[1].weight, 20);
  EXPECT_FALSE(http.route[1].destination->port.has_value());
  EXPECT_EQ(http.route[1].headers->request->set.at("x-version"), "v1");
  EXPECT_EQ(http.route[1].headers->request->remove, (std::vector<std::string>{"x-debug"}));

  ASSERT_TRUE(http.retries.has_value());
  EXPECT_EQ(http.retries->attempts, 3);
  EXPECT_EQ(http.retries->per_try_timeout, "2s");
  EXPECT_EQ(http.retries->retry_on, "5xx,reset");

  ASSERT_TRUE(http.fault.has_value());
  EXPECT_EQ(http.fault->delay->fixed_delay, "5s");
  EXPECT_DOUBLE_EQ(*http.fault->delay->percentage->value, 10.5);
  EXPECT_EQ(http.fault->abort->http_status, 503);
  EXPECT_DOUBLE_EQ(*http.fault->abort->percentage->value, 1.0);

  EXPECT_EQ(http.mirror->host, "shadow");
  EXPECT_DOUBLE_EQ(*http.mirror_percentage->value, 25.0);
  EXPECT_EQ(http.mirror_percent_alias, 7);
  EXPECT_FALSE(http.mirror_percent.has_value());
  EXPECT_EQ(http.timeout, "10s");

  ASSERT_EQ(spec.tcp.size(), 1u);
  EXPECT_EQ(spec.tcp[0].match[0].port, 27017);
  EXPECT_EQ(spec.tcp[0].route[0].destination->host, "mongo");
}

TEST(DecodeVirtualService, WrongTypesAreSkippedNotFatal) {
  auto vs = decodeVirtualService(load(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: reviews
  http:
  - route:
    - destination: {host: 42, port: {number: "80"}}
      weight: ten
  - just-a-string
  - retries: [1, 2]
    timeout: {seconds: 1}
)"));
  EXPECT_TRUE(vs.spec.hosts.empty());
  // Every list element is kept so indices match the YAML.
  ASSERT_EQ(vs.spec.http.size(), 3u);
  const auto& dest = vs.spec.http[0].route[0].destination;
  ASSERT_TRUE(dest.has_value());
  EXPECT_FALSE(dest->host.has_value());
  EXPECT_FALSE(dest->port->number.has_value());
  EXPECT_FALSE(vs.spec.http[0].route[0].weight.has_value());
  EXPECT_EQ(vs.spec.http[1].line, 10);
  EXPECT_TRUE(vs.spec.http[1].route.empty());
  EXPECT_FALSE(vs.spec.http[2].retries.has_value());
  EXPECT_FALSE(vs.spec.http[2].timeout.has_value());
}

TEST(DecodeDestinationRule, TrafficPolicyAndSubsets) {
  auto dr = decodeDestinationRule(load(R"(apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.prod.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms}
      http: {http1MaxPendingRequests: 10, h2UpgradePolicy: UPGRADE}
    outlierDetection:
      consecutive5xxErrors: 7
      interval: 5m
      baseEjectionTime: 15m
    tls: {mode: ISTIO_MUTUAL, sni: reviews.example.com}
    portLevelSettings:
    - port: {number: 80}
      loadBalancer:
        consistentHash: {httpHeaderName: x-user}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
)"));
  const auto& spec = dr.spec;
  EXPECT_EQ(spec.host, "reviews.prod.svc.cluster.local");
  ASSERT_TRUE(spec.traffic_policy.has_value());
  const auto& tp = *spec.traffic_policy;
  EXPECT_EQ(tp.line, 7);
  EXPECT_EQ(tp.load_balancer->simple, "LEAST_REQUEST");
  EXPECT_EQ(tp.connection_pool->tcp->max_connections, 100);
  EXPECT_EQ(tp.connection_pool->tcp->connect_timeout, "30ms");
  EXPECT_EQ(tp.connection_pool->http->http1_max_pending_requests, 10);
  EXPECT_EQ(tp.connection_pool->http->h2_upgrade_policy, "UPGRADE");
  EXPECT_EQ(tp.outlier_detection->consecutive5xx_errors, 7);
  EXPECT_EQ(tp.outlier_detection->base_ejection_time, "15m");
  EXPECT_EQ(tp.tls->mode, "ISTIO_MUTUAL");
  EXPECT_EQ(tp.tls->sni, "reviews.example.com");
  ASSERT_EQ(tp.port_level_settings.size(), 1u);
  EXPECT_EQ(tp.port_level_settings[0].port->number, 80);
  EXPECT_EQ(tp.port_level_settings[0].load_balancer->consistent_hash->http_header_name, "x-user");
  ASSERT_EQ(spec.subsets.size(), 2u);
  EXPECT_EQ(spec.subsets[0].name, "v1");
  EXPECT_EQ(spec.subsets[0].labels.at("version"), "v1");
  EXPECT_FALSE(spec.subsets[0].traffic_policy.has_value());
  EXPECT_EQ(spec.subsets[1].traffic_policy->load_balancer->simple, "ROUND_ROBIN");
  EXPECT_EQ(spec.subsets[1].line, 24);
}

TEST(DecodeGateway, ServersPortsAndTls) {
  auto gw = decodeGateway(load(R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls:
      mode: SIMPLE
      credentialName: example-cert
      minProtocolVersion: TLSV1_2
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
)"));
  EXPECT_EQ(gw.spec.selector.at("istio"), "ingressgateway");
  ASSERT_EQ(gw.spec.servers.size(), 2u);
  const auto& s = gw.spec.servers[0];
  EXPECT_EQ(s.line, 7);
  EXPECT_EQ(s.port->number, 443);
  EXPECT_EQ(s.port->name, "https");
  EXPECT_EQ(s.port->protocol, "HTTPS");
  EXPECT_EQ(s.hosts, (std::vector<std::string>{"*.example.com"}));
  EXPECT_EQ(s.tls->mode, "SIMPLE");
  EXPECT_EQ(s.tls->credential_name, "example-cert");
  EXPECT_EQ(s.tls->min_protocol_version, "TLSV1_2");
  EXPECT_EQ(gw.spec.servers[1].tls->https_redirect, true);
}

TEST(DecodeServiceEntry, PortsAndEndpoints) {
  auto se = decodeServiceEntry(load(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-db}
spec:
  hosts: [db.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: 5432, name: tcp-postgres, protocol: TCP, targetPort: 15432}
  endpoints:
  - address: 10.0.0.1
    ports: {tcp-postgres: 6432}
    labels: {zone: a}
    weight: 3
  - address: 10.0.0.2
)"));
  EXPECT_EQ(se.spec.hosts, (std::vector<std::string>{"db.example.com"}));
  EXPECT_EQ(se.spec.location, "MESH_EXTERNAL");
  EXPECT_EQ(se.spec.resolution, "STATIC");
  ASSERT_EQ(se.spec.ports.size(), 1u);
  EXPECT_EQ(se.spec.ports[0].number, 5432);
  EXPECT_EQ(se.spec.ports[0].target_port, 15432);
  ASSERT_EQ(se.spec.endpoints.size(), 2u);
  EXPECT_EQ(se.spec.endpoints[0].address, "10.0.0.1");
  EXPECT_EQ(se.spec.endpoints[0].ports.at("tcp-postgres"), 6432);
  EXPECT_EQ(se.spec.endpoints[0].labels.at("zone"), "a");
  EXPECT_EQ(se.spec.endpoints[0].weight, 3);
  EXPECT_EQ(se.spec.endpoints[1].line, 15);
  EXPECT_FALSE(se.spec.endpoints[1].weight.has_value());
}

TEST(DecodeSecurity, AuthorizationPolicyRules) {
  auto ap = decodeAuthorizationPolicy(load(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  selector:
    matchLabels: {app: httpbin}
  action: DENY
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/default/sa/sleep]
        notNamespaces: [dev]
    to:
    - operation:
        methods: [GET]
        paths: [/info*]
        ports: ["8080"]
    when:
    - key: request.auth.claims[iss]
      values: [https://accounts.google.com]
)"));
  EXPECT_EQ(ap.spec.action, "DENY");
  EXPECT_EQ(ap.spec.selector->match_labels.at("app"), "httpbin");
  ASSERT_EQ(ap.spec.rules.size(), 1u);
  const auto& rule = ap.spec.rules[0];
  EXPECT_EQ(rule.line, 9);
  EXPECT_EQ(rule.from[0].source->principals,
            (std::vector<std::string>{"cluster.local/ns/default/sa/sleep"}));
  EXPECT_EQ(rule.from[0].source->not_namespaces, (std::vector<std::string>{"dev"}));
  EXPECT_EQ(rule.to[0].operation->methods, (std::vector<std::string>{"GET"}));
  EXPECT_EQ(rule.to[0].operation->ports, (std::vector<std::string>{"8080"}));
  EXPECT_EQ(rule.when[0].key, "request.auth.claims[iss]");
  EXPECT_EQ(rule.when[0].values, (std::vector<std::string>{"https://accounts.google.com"}));
}

TEST(DecodeSecurity, PeerAuthenticationPortLevelMtls) {
  auto pa = decodePeerAuthentication(load(R"(apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default}
spec:
  mtls: {mode: STRICT}
  portLevelMtls:
    "8080":
      mode: DISABLE
)"));
  EXPECT_EQ(pa.spec.mtls->mode, "STRICT");
  ASSERT_EQ(pa.spec.port_level_mtls.count("8080"), 1u);
  EXPECT_EQ(pa.spec.port_level_mtls.at("8080").mode, "DISABLE");
  EXPECT_EQ(pa.spec.port_level_mtls.at("8080").line, 8);
}

TEST(DecodeSecurity, RequestAuthenticationJwksUriSpellings) {
  auto ra = decodeRequestAuthentication(load(R"(apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt}
spec:
  jwtRules:
  - issuer: issuer-foo
    jwksUri: https://example.com/jwks
    fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
  - issuer: issuer-bar
    jwks_uri: https://example.com/old
)"));
  ASSERT_EQ(ra.spec.jwt_rules.size(), 2u);
  EXPECT_EQ(ra.spec.jwt_rules[0].jwks_uri, "https://example.com/jwks");
  EXPECT_EQ(ra.spec.jwt_rules[0].from_headers[0].prefix, "Bearer ");
  EXPECT_EQ(ra.spec.jwt_rules[1].jwks_uri_alias, "https://example.com/old");
  EXPECT_FALSE(ra.spec.jwt_rules[1].jwks_uri.has_value());
}

TEST(DecodeKubernetes, ServiceAndEndpoints) {
  auto svc = decodeService(load(R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: prod}
spec:
  selector: {app: reviews}
  clusterIP: 10.96.0.10
  ports:
  - {name: http, port: 9080, targetPort: 8080, appProtocol: http}
  - {name: grpc, port: 9090, targetPort: grpc-port, protocol: TCP}
)"));
  EXPECT_EQ(svc.meta.namespace_, "prod");
  EXPECT_EQ(svc.selector.at("app"), "reviews");
  EXPECT_EQ(svc.cluster_ip, "10.96.0.10");
  ASSERT_EQ(svc.ports.size(), 2u);
  EXPECT_EQ(svc.ports[0].port, 9080);
  EXPECT_EQ(svc.ports[0].target_port, "8080");
  EXPECT_EQ(svc.ports[0].target_port_number, 8080);
  EXPECT_EQ(svc.ports[0].app_protocol, "http");
  EXPECT_EQ(svc.ports[1].target_port, "grpc-port");
  EXPECT_FALSE(svc.ports[1].target_port_number.has_value());
  EXPECT_EQ(svc.ports[1].protocol, "TCP");
  EXPECT_EQ(svc.ports[1].line, 9);

  auto ep = decodeEndpoints(load(R"(apiVersion: v1
kind: Endpoints
metadata: {name: reviews}
subsets:
- addresses:
  - ip: 10.1.0.5
    nodeName: node-1
    targetRef: {kind: Pod, name: reviews-v1-abc}
  notReadyAddresses:
  - ip: 10.1.0.6
  ports:
  - {name: http, port: 8080, protocol: TCP}
)"));
  ASSERT_EQ(ep.subsets.size(), 1u);
  const auto& sub = ep.subsets[0];
  ASSERT_EQ(sub.addresses.size(), 1u);
  EXPECT_EQ(sub.addresses[0].ip, "10.1.0.5");
  EXPECT_EQ(sub.addresses[0].node_name, "node-1");
  EXPECT_EQ(sub.addresses[0].target_ref_name, "reviews-v1-abc");
  EXPECT_EQ(sub.not_ready_addresses[0].ip, "10.1.0.6");
  EXPECT_EQ(sub.ports[0].port, 8080);
  EXPECT_EQ(sub.ports[0].name, "http");
}

TEST(DecodeKubernetes, PodSecretConfigMap) {
  auto pod = decodePod(load(R"(apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, labels: {app: reviews}}
spec:
  serviceAccount: old-style
  containers:
  - name: app
    image: reviews:1
    ports: [{containerPort: 8080, name: http}]
status: {podIP: 10.1.0.5, phase: Running}
)"));
  EXPECT_EQ(pod.service_account, "old-style");
  EXPECT_EQ(pod.containers[0].image, "reviews:1");
  EXPECT_EQ(pod.containers[0].ports[0].container_port, 8080);
  EXPECT_EQ(pod.pod_ip, "10.1.0.5");
  EXPECT_EQ(pod.phase, "Running");

  auto secret = decodeSecret(load(R"(apiVersion: v1
kind: Secret
metadata: {name: cert}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==}
stringData: {note: hello}
)"));
  EXPECT_EQ(secret.type, "kubernetes.io/tls");
  EXPECT_EQ(secret.data.at("tls.crt"), "Y2VydA==");
  EXPECT_EQ(secret.string_data.at("note"), "hello");

  auto cm = decodeConfigMap(load(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: mesh}
data: {mesh: "accessLogFile: /dev/stdout"}
)"));
  EXPECT_EQ(cm.data.at("mesh"), "accessLogFile: /dev/stdout");
}

TEST(BuildConfigSet, DispatchesOnGroupKindAndVersion) {
  LoadResult r;
  loadText(R"(apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: a}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: g}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: p}
---
apiVersion: security.istio.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: not-served}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
---
apiVersion: example.com/v1
kind: VirtualService
metadata: {name: other-group}
)",
           "set.yaml", r);
  ASSERT_EQ(r.objects.size(), 7u);
  auto set = buildConfigSet(r.objects);
  ASSERT_EQ(set.virtual_services.size(), 1u);
  EXPECT_EQ(set.virtual_services[0].meta.name, "a");
  EXPECT_TRUE(set.virtual_services[0].meta.namespace_.empty());  // no defaulting here
  EXPECT_EQ(set.gateways.size(), 1u);
  ASSERT_EQ(set.authorization_policies.size(), 1u);
  EXPECT_EQ(set.authorization_policies[0].meta.name, "p");
  ASSERT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(set.namespaces[0].meta.labels.at("istio-injection"), "enabled");
  EXPECT_TRUE(set.services.empty());
}

// Every document of Istio's own test data and the analyzer corpus decodes without crashing, valid
// or not (many are deliberately broken).
TEST(BuildConfigSet, DecodesTheSharedCorpus) {
  HALYARD_REQUIRE_SHARED_CORPUS();
  LoadResult r = loadPaths({corpus::sharedPath("conformance")});
  ASSERT_FALSE(r.objects.empty());
  auto set = buildConfigSet(r.objects);
  EXPECT_FALSE(set.virtual_services.empty());
  EXPECT_FALSE(set.destination_rules.empty());
  EXPECT_FALSE(set.gateways.empty());
  EXPECT_FALSE(set.authorization_policies.empty());
  EXPECT_FALSE(set.services.empty());
}

}  // namespace
}  // namespace halyard::config
