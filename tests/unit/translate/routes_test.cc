// HTTP route translation: matches, actions, weights, rewrites, retries, faults, mirrors, CORS
// and header operations (istio-semantics.md §1.2-§1.9).
#include <gtest/gtest.h>

#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;
using Kind = StringMatcher::Kind;

// A gateway on port 80 for a.example.com, Services a and b in default, and `http` as the route
// list of a VirtualService bound to it.
std::string vsWith(std::string_view http) {
  return std::string(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [a.example.com]
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: default}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: default}
spec:
  ports: [{name: http, port: 80}, {name: admin, port: 9000}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
)") + std::string(http);
}

const std::vector<Route>& routesOf(const TranslateResult& r) {
  static const std::vector<Route> kNone;
  const VirtualHost* v = vhostFor(snapshotOf(r), 80, "a.example.com");
  EXPECT_NE(v, nullptr);
  return v ? v->routes : kNone;
}

TEST(RoutesTest, MatchConditionsCompile) {
  TranslateResult r = translateYaml(vsWith(R"(
  - name: api
    match:
    - name: first
      uri: {exact: /Exact}
      ignoreUriCase: true
      method: {exact: POST}
      scheme: {prefix: http}
      authority: {regex: "a\\.example\\.com(:80)?"}
      headers:
        X-Present: {}
        x-star: {regex: "*"}
        x-re: {regex: "v[0-9]+"}
      withoutHeaders:
        x-debug: {exact: "1"}
      queryParams:
        q: {exact: ""}
        n: {regex: "\\d+"}
    route: [{destination: {host: a}}]
)"));
  const auto& routes = routesOf(r);
  ASSERT_EQ(routes.size(), 1u);
  const Route& route = routes[0];
  EXPECT_EQ(route.name, "api.first");
  const RouteMatch& m = route.match;
  ASSERT_TRUE(m.uri);
  EXPECT_EQ(m.uri->kind, Kind::kExact);
  EXPECT_EQ(m.uri->value, "/exact");
  EXPECT_TRUE(m.uri->ignore_case);
  EXPECT_EQ(m.method->value, "POST");
  EXPECT_EQ(m.scheme->kind, Kind::kPrefix);
  ASSERT_EQ(m.authority->kind, Kind::kRegex);
  ASSERT_NE(m.authority->regex, nullptr);
  ASSERT_EQ(m.headers.size(), 4u);
  EXPECT_EQ(m.headers[0].name, "x-present");
  EXPECT_EQ(m.headers[0].match.kind, Kind::kPresent);
  EXPECT_EQ(m.headers[1].name, "x-re");
  EXPECT_EQ(m.headers[1].match.kind, Kind::kRegex);
  EXPECT_EQ(m.headers[2].name, "x-star");
  EXPECT_EQ(m.headers[2].match.kind, Kind::kPresent);
  EXPECT_EQ(m.headers[3].name, "x-debug");
  EXPECT_TRUE(m.headers[3].invert);
  ASSERT_EQ(m.query_params.size(), 2u);
  EXPECT_EQ(m.query_params[0].name, "n");
  EXPECT_EQ(m.query_params[1].name, "q");
  EXPECT_EQ(m.query_params[1].match.kind, Kind::kExact);

  Request req;
  req.authority = "a.example.com";
  req.method = "POST";
  req.path = "/EXACT?q&n=42";
  req.headers = {{"x-present", ""}, {"x-star", "s"}, {"x-re", "v2"}};
  EXPECT_EQ(routeFor(snapshotOf(r), 80, req), &route);
  req.path = "/EXACT?q&n=a42";  // regex query match is a full match
  EXPECT_EQ(routeFor(snapshotOf(r), 80, req), nullptr);
  req.path = "/exact?q&n=1";
  req.headers.push_back({"x-debug", "1"});
  EXPECT_EQ(routeFor(snapshotOf(r), 80, req), nullptr);
}

TEST(RoutesTest, InvalidRegexMeansNoSnapshot) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {regex: "/a(b"}}]
    route: [{destination: {host: a}}]
)"));
  EXPECT_EQ(r.snapshot, nullptr);
  ASSERT_FALSE(r.diagnostics.empty());
  const config::Diagnostic& d = r.diagnostics.back();
  EXPECT_EQ(d.level, config::Level::kError);
  EXPECT_EQ(d.code, "HAL0103");
  EXPECT_EQ(d.resource.str(), "VirtualService default/vs");
  EXPECT_EQ(d.field_path, "spec.http[0].match[0].uri.regex");
  EXPECT_GT(d.pos.line, 0);
}

TEST(RoutesTest, MalformedDurationMeansNoSnapshot) {
  TranslateResult r = translateYaml(vsWith(R"(
  - timeout: soon
    route: [{destination: {host: a}}]
)"));
  EXPECT_EQ(r.snapshot, nullptr);
  EXPECT_TRUE(hasWarning(r, "timeout \"soon\" is not a duration"));
}

TEST(RoutesTest, WeightsAreRelativeAndZeroWeightsDropped) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: a}, weight: 49}
    - {destination: {host: b, port: {number: 80}}, weight: 50}
    - {destination: {host: b, port: {number: 9000}}, weight: 0}
    - {destination: {host: b, port: {number: 9000}}}
  - route: [{destination: {host: a}, weight: 30}]
)"));
  const auto& routes = routesOf(r);
  ASSERT_EQ(routes.size(), 2u);
  const ForwardAction* split = forward(routes[0]);
  ASSERT_EQ(split->clusters.size(), 2u);
  EXPECT_EQ(split->clusters[0].cluster, "outbound|80||a.default.svc.cluster.local");
  EXPECT_EQ(split->clusters[0].weight, 49u);
  EXPECT_EQ(split->clusters[1].cluster, "outbound|80||b.default.svc.cluster.local");
  EXPECT_EQ(split->total_weight, 99u);
  const ForwardAction* single = forward(routes[1]);
  ASSERT_EQ(single->clusters.size(), 1u);
  EXPECT_EQ(single->clusters[0].weight, 1u);  // one destination ignores its weight
  EXPECT_EQ(single->total_weight, 1u);
}

TEST(RoutesTest, DestinationPortDefaults) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /one-port}}]
    route: [{destination: {host: a}}]
  - route: [{destination: {host: b}}]
)"));
  const auto& routes = routesOf(r);
  // One port: that port. Several: the listener port.
  EXPECT_EQ(forward(routes[0])->clusters[0].cluster, "outbound|80||a.default.svc.cluster.local");
  EXPECT_EQ(forward(routes[1])->clusters[0].cluster, "outbound|80||b.default.svc.cluster.local");
}

TEST(RoutesTest, RetriesFollowIstioDefaults) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /default}}]
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /off}}]
    retries: {attempts: 0}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /custom}}]
    retries: {attempts: 3, retryOn: "5xx, 503,reset", perTryTimeout: 2s, retryIgnorePreviousHosts: false}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /attempts-only}}]
    retries: {attempts: 4, backoff: 100ms}
    route: [{destination: {host: a}}]
)"));
  const auto& routes = routesOf(r);
  ASSERT_EQ(routes.size(), 4u);
  const uint32_t kDefaultOn = kRetryConnectFailure | kRetryRefusedStream | kRetryUnavailable |
                              kRetryCancelled | kRetryRetriableStatusCodes;
  const RetryPolicy& def = forward(routes[0])->retry;
  EXPECT_EQ(def.attempts, 2u);
  EXPECT_EQ(def.retry_on, kDefaultOn);
  EXPECT_TRUE(def.retriable_status_codes.empty());
  EXPECT_TRUE(def.retry_other_hosts);
  EXPECT_FALSE(def.per_try_timeout);

  EXPECT_EQ(forward(routes[1])->retry.attempts, 0u);

  const RetryPolicy& custom = forward(routes[2])->retry;
  EXPECT_EQ(custom.attempts, 3u);
  EXPECT_EQ(custom.retry_on, kRetry5xx | kRetryReset | kRetryRetriableStatusCodes);
  EXPECT_EQ(custom.retriable_status_codes, std::vector<uint16_t>{503});
  EXPECT_EQ(custom.per_try_timeout, Millis(2000));
  EXPECT_FALSE(custom.retry_other_hosts);

  const RetryPolicy& attempts_only = forward(routes[3])->retry;
  EXPECT_EQ(attempts_only.attempts, 4u);
  EXPECT_EQ(attempts_only.retry_on, kDefaultOn);
  EXPECT_EQ(attempts_only.backoff_base, Millis(100));
}

TEST(RoutesTest, TimeoutAndRewrites) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /v1}}]
    timeout: 1.5s
    rewrite: {uri: /v2, authority: internal.example.com}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /re}}]
    timeout: 0s
    rewrite:
      uriRegexRewrite: {match: "^/re/(.*)$", rewrite: "/\\1"}
    route: [{destination: {host: a}}]
)"));
  const auto& routes = routesOf(r);
  const ForwardAction* a = forward(routes[0]);
  EXPECT_EQ(a->timeout, Millis(1500));
  ASSERT_TRUE(a->uri_rewrite);
  EXPECT_EQ(a->uri_rewrite->prefix_replacement, "/v2");
  EXPECT_EQ(a->authority_rewrite, "internal.example.com");
  const ForwardAction* b = forward(routes[1]);
  EXPECT_FALSE(b->timeout);  // 0s: no timeout
  ASSERT_TRUE(b->uri_rewrite);
  ASSERT_NE(b->uri_rewrite->regex, nullptr);
  EXPECT_EQ(b->uri_rewrite->regex_substitution, "/\\1");

  Request req;
  req.authority = "a.example.com";
  req.path = "/re/x/y?k=v";
  const Route* route = routeFor(snapshotOf(r), 80, req);
  ASSERT_EQ(route, &routes[1]);
  EXPECT_EQ(proxy::router::rewritePath(*route, *forward(*route), req.view()), "/x/y?k=v");
}

TEST(RoutesTest, Redirects) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: b.example.com}
  - match: [{uri: {prefix: /found}}]
    redirect: {scheme: https, derivePort: FROM_REQUEST_PORT, redirectCode: 302}
  - match: [{uri: {prefix: /bad-code}}]
    redirect: {uri: /x, redirectCode: 305}
  - match: [{uri: {prefix: /port}}]
    redirect: {prefixRewrite: /p, port: 8443}
)"));
  const auto& routes = routesOf(r);
  ASSERT_EQ(routes.size(), 3u);  // 305 has no Envoy enum: the route is dropped
  const auto* a = std::get_if<RedirectAction>(&routes[0].action);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->code, 301);
  EXPECT_EQ(a->uri, "/new");
  EXPECT_EQ(a->authority, "b.example.com");
  const auto* b = std::get_if<RedirectAction>(&routes[1].action);
  EXPECT_EQ(b->code, 302);
  EXPECT_EQ(b->scheme, "https");
  EXPECT_EQ(b->derive_port, RedirectAction::DerivePort::kFromRequestPort);
  const auto* c = std::get_if<RedirectAction>(&routes[2].action);
  EXPECT_EQ(c->prefix_rewrite, "/p");
  EXPECT_EQ(c->port, 8443);
  EXPECT_TRUE(hasWarning(r, "redirect code 305"));

  Request req;
  req.authority = "a.example.com";
  req.path = "/old/page?x=1";
  const Route* route = routeFor(snapshotOf(r), 80, req);
  ASSERT_EQ(route, &routes[0]);
  EXPECT_EQ(proxy::router::redirectLocation(*route, *a, req.view()),
            "http://b.example.com/new?x=1");
}

TEST(RoutesTest, DirectResponses) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {exact: /health}}]
    directResponse: {status: 200, body: {string: ok}}
    headers: {response: {set: {content-type: text/plain}}}
  - match: [{uri: {exact: /bytes}}]
    directResponse: {status: 503, body: {bytes: aGVsbG8gd29ybGQ=}}
  - match: [{uri: {exact: /empty}}]
    directResponse: {status: 404}
)"));
  const auto& routes = routesOf(r);
  const auto* a = std::get_if<DirectResponseAction>(&routes[0].action);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "ok");
  ASSERT_EQ(routes[0].response_headers.set.size(), 1u);
  EXPECT_EQ(routes[0].response_headers.set[0].first, "content-type");
  const auto* b = std::get_if<DirectResponseAction>(&routes[1].action);
  EXPECT_EQ(b->status, 503);
  EXPECT_EQ(b->body, "hello world");
  const auto* c = std::get_if<DirectResponseAction>(&routes[2].action);
  EXPECT_EQ(c->status, 404);
  EXPECT_TRUE(c->body.empty());
}

TEST(RoutesTest, CorsPolicy) {
  TranslateResult r = translateYaml(vsWith(R"(
  - corsPolicy:
      allowOrigins: [{exact: "https://a.example.com"}, {regex: "https://.*\\.b\\.com"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-a, x-b]
      exposeHeaders: [x-c]
      maxAge: 24h
      allowCredentials: true
      unmatchedPreflights: IGNORE
    route: [{destination: {host: a}}]
)"));
  const auto& routes = routesOf(r);
  ASSERT_TRUE(routes[0].cors);
  const CorsPolicy& c = *routes[0].cors;
  ASSERT_EQ(c.allow_origins.size(), 2u);
  EXPECT_EQ(c.allow_origins[0].kind, Kind::kExact);
  EXPECT_EQ(c.allow_origins[1].kind, Kind::kRegex);
  EXPECT_EQ(c.allow_methods, "GET,POST");
  EXPECT_EQ(c.allow_headers, "x-a,x-b");
  EXPECT_EQ(c.expose_headers, "x-c");
  EXPECT_EQ(c.max_age_seconds, 86400);
  EXPECT_EQ(c.allow_credentials, true);
  EXPECT_FALSE(c.forward_unmatched_preflights);
  EXPECT_TRUE(proxy::router::corsOriginAllowed(c, "https://x.b.com"));
  EXPECT_FALSE(proxy::router::corsOriginAllowed(c, "https://evil.com"));
}

TEST(RoutesTest, Faults) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /delay}}]
    fault:
      delay: {fixedDelay: 5s, percentage: {value: 12.5}}
      abort: {httpStatus: 503, percentage: {value: 0.0001}}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /legacy}}]
    fault:
      delay: {fixedDelay: 100ms, percent: 30}
      abort: {grpcStatus: UNAVAILABLE}
    route: [{destination: {host: a}}]
)"));
  const auto& routes = routesOf(r);
  ASSERT_TRUE(routes[0].fault);
  EXPECT_EQ(routes[0].fault->delay->duration, Millis(5000));
  EXPECT_EQ(routes[0].fault->delay->per_million, 125000u);
  EXPECT_EQ(routes[0].fault->abort->http_status, 503);
  EXPECT_EQ(routes[0].fault->abort->per_million, 1u);
  ASSERT_TRUE(routes[1].fault);
  EXPECT_EQ(routes[1].fault->delay->per_million, 300000u);
  EXPECT_EQ(routes[1].fault->abort->grpc_status, "UNAVAILABLE");
  EXPECT_EQ(routes[1].fault->abort->per_million, 0u);  // no percentage: nothing is aborted
}

TEST(RoutesTest, Mirrors) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /all}}]
    mirror: {host: b, port: {number: 9000}}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /none}}]
    mirror: {host: b}
    mirrorPercentage: {value: 0}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /list}}]
    mirrors:
    - destination: {host: b}
      percentage: {value: 50}
    - destination: {host: a}
    route: [{destination: {host: a}}]
)"));
  const auto& routes = routesOf(r);
  const auto& all = forward(routes[0])->mirrors;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].cluster, "outbound|9000||b.default.svc.cluster.local");
  EXPECT_EQ(all[0].per_million, 1'000'000u);
  EXPECT_TRUE(forward(routes[1])->mirrors.empty());
  const auto& list = forward(routes[2])->mirrors;
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].per_million, 500'000u);
  EXPECT_EQ(list[1].cluster, "outbound|80||a.default.svc.cluster.local");
  EXPECT_EQ(list[1].per_million, 1'000'000u);
  EXPECT_EQ(snapshotOf(r).clusters.count("outbound|9000||b.default.svc.cluster.local"), 1u);
}

TEST(RoutesTest, HeaderOperations) {
  TranslateResult r = translateYaml(vsWith(R"(
  - headers:
      request:
        set: {X-Set: one, host: rewritten.example.com}
        add: {x-add: two, ":path": /nope}
        remove: [X-Remove, host]
      response:
        add: {x-served-by: halyard}
        remove: [server]
    route:
    - destination: {host: a}
      weight: 90
      headers:
        request: {set: {x-dest: a, ":authority": dest.example.com}}
        response: {remove: [x-internal]}
    - destination: {host: b}
      weight: 10
)"));
  const Route& route = routesOf(r).at(0);
  EXPECT_EQ(route.request_headers.set,
            (std::vector<std::pair<std::string, std::string>>{{"x-set", "one"}}));
  EXPECT_EQ(route.request_headers.add,
            (std::vector<std::pair<std::string, std::string>>{{"x-add", "two"}}));
  EXPECT_EQ(route.request_headers.remove, std::vector<std::string>{"x-remove"});
  EXPECT_EQ(route.response_headers.add.size(), 1u);
  EXPECT_EQ(route.response_headers.remove, std::vector<std::string>{"server"});
  const ForwardAction* f = forward(route);
  EXPECT_EQ(f->authority_rewrite, "rewritten.example.com");  // host in request.set
  ASSERT_EQ(f->clusters.size(), 2u);
  EXPECT_EQ(f->clusters[0].request_headers.set,
            (std::vector<std::pair<std::string, std::string>>{{"x-dest", "a"}}));
  // The route sets host too, so the destination's :authority is dropped (route-level wins).
  EXPECT_EQ(f->clusters[0].authority_rewrite, std::nullopt);
  EXPECT_EQ(f->clusters[0].response_headers.remove, std::vector<std::string>{"x-internal"});
  EXPECT_TRUE(f->clusters[1].request_headers.empty());
}

// Istio's "set host header in route and (multi) destination" cases: a route-level authority
// (rewrite.authority, or host/:authority in headers.request.set) beats every destination's, so
// whichever destination is picked the upstream sees the route's value. Without one, each
// destination keeps its own.
TEST(RoutesTest, RouteAuthorityWinsOverDestinationAuthority) {
  TranslateResult r = translateYaml(vsWith(R"(
  - match: [{uri: {prefix: /single}}]
    headers:
      request: {set: {":authority": route-authority}}
    route:
    - destination: {host: a}
      headers:
        request: {set: {Host: dest-authority}}
  - match: [{uri: {prefix: /multi}}]
    headers:
      request: {set: {host: route-authority}}
    route:
    - destination: {host: a}
      weight: 50
      headers:
        request: {set: {Host: dest-authority}}
    - destination: {host: b}
      weight: 50
  - match: [{uri: {prefix: /rewrite}}]
    rewrite: {authority: rewritten}
    route:
    - destination: {host: a}
      headers:
        request: {add: {":authority": dest-authority}}
  - match: [{uri: {prefix: /dest-only}}]
    route:
    - destination: {host: a}
      weight: 50
      headers:
        request: {set: {Host: dest-a}}
    - destination: {host: b}
      weight: 50
      headers:
        request: {set: {Host: dest-b}}
)"));
  const auto& routes = routesOf(r);
  ASSERT_EQ(routes.size(), 4u);
  const ForwardAction* single = forward(routes[0]);
  EXPECT_EQ(single->authority_rewrite, "route-authority");
  EXPECT_EQ(single->clusters.at(0).authority_rewrite, std::nullopt);
  const ForwardAction* multi = forward(routes[1]);
  EXPECT_EQ(multi->authority_rewrite, "route-authority");
  ASSERT_EQ(multi->clusters.size(), 2u);
  for (const auto& c : multi->clusters) EXPECT_EQ(c.authority_rewrite, std::nullopt) << c.cluster;
  const ForwardAction* rewrite = forward(routes[2]);
  EXPECT_EQ(rewrite->authority_rewrite, "rewritten");
  EXPECT_EQ(rewrite->clusters.at(0).authority_rewrite, std::nullopt);
  const ForwardAction* dest_only = forward(routes[3]);
  EXPECT_EQ(dest_only->authority_rewrite, std::nullopt);
  ASSERT_EQ(dest_only->clusters.size(), 2u);
  EXPECT_EQ(dest_only->clusters[0].authority_rewrite, "dest-a");
  EXPECT_EQ(dest_only->clusters[1].authority_rewrite, "dest-b");
}

}  // namespace
}  // namespace halyard::translate
