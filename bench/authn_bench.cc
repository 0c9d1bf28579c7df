// What RequestAuthentication and 20 AuthorizationPolicies add to one request, measured in
// process (the end-to-end bench/authz_bench.py is at the mercy of a shared machine's noise):
//   ninja -C build authn_bench && ./build/bin/authn_bench
// The policies are bench/authz_bench.py's (8 DENY on paths and headers, 3 DENY on claims, 8
// ALLOW on principals and namespaces, the last ALLOW on the token's principal and a claim),
// compiled by translate from YAML; the token is RS256 (2048-bit key), sent as
// `Authorization: Bearer`. Cases: a token the worker has verified before (the cache: what a
// client repeating its token costs), a token verified from scratch (cache off: the signature),
// and the authorization decision with the verified token's attributes.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "config/yaml/config_set_builder.h"
#include "config/yaml/loader.h"
#include "proxy/authn/authenticator.h"
#include "proxy/authn/test_tokens.h"
#include "proxy/authz/authorizer.h"
#include "translate/authz_compiler.h"
#include "translate/request_authentication.h"

namespace {

namespace tr = halyard::translate;
namespace authn = halyard::proxy::authn;
namespace authz = halyard::proxy::authz;
namespace http = halyard::proxy::http;
using namespace authn::test_tokens;  // NOLINT: the token helpers

constexpr const char* kIssuer = "https://bench.idp.test";

std::string policiesYaml(const std::string& jwks) {
  std::string y = std::string(R"(apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bench-jwt, namespace: default}
spec:
  selector: {matchLabels: {app: server}}
  jwtRules:
  - issuer: )") + kIssuer +
                  "\n    audiences: [server]\n    jwks: '" + jwks + "'\n";
  auto head = [](const std::string& name, const char* action) {
    return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " +
           name + ", namespace: default}\nspec:\n  selector: {matchLabels: {app: server}}\n" +
           "  action: " + action + "\n  rules:\n";
  };
  for (int i = 0; i < 8; ++i) {
    const std::string n = std::to_string(i);
    y += head("deny-" + n, "DENY") + "  - to: [{operation: {paths: [\"/admin/" + n +
         "/*\"], methods: [DELETE, PUT]}}]\n  - when: [{key: \"request.headers[x-block-" + n +
         "]\", values: [\"yes\"]}]\n";
  }
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    y += head("deny-claims-" + n, "DENY") +
         "  - when:\n    - key: request.auth.claims[groups]\n      values: [banned-" + n +
         "]\n    - key: request.auth.claims[org][tier]\n      values: [blocked-" + n + "]\n";
  }
  for (int i = 0; i < 8; ++i) {
    const std::string n = std::to_string(i);
    y += head("allow-" + n, "ALLOW") + "  - from: [{source: {principals: [cluster.local/ns/other-" +
         n + "/sa/caller]}}]\n    to: [{operation: {paths: [\"/api/" + n +
         "/*\"], methods: [GET]}}]\n  - from: [{source: {namespaces: [team-" + n + "]}}]\n";
  }
  y += head("allow-jwt", "ALLOW") + "  - from: [{source: {requestPrincipals: [\"" + kIssuer +
       "/*\"]}}]\n    to: [{operation: {methods: [GET, HEAD]}}]\n" +
       "    when: [{key: \"request.auth.claims[groups]\", values: [readers]}]\n";
  return y;
}

struct Fixture {
  Key key{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})};
  std::vector<tr::JwtRule> rules;
  std::vector<tr::AuthzPolicy> policies;
  std::string bearer;
  std::vector<http::HeaderView> headers;

  Fixture() {
    const std::string jwks = "{\"keys\":[" + jwk(key.get(), "bench") + "]}";
    halyard::config::LoadResult loaded;
    halyard::config::loadText(policiesYaml(jwks), "bench.yaml", loaded);
    const auto config = halyard::config::buildConfigSet(loaded.objects);
    std::vector<std::string> warnings;
    const tr::AuthnScope scope{"default", {{"app", "server"}}};
    rules = tr::jwtRulesFor(config, tr::MeshSettings{}, scope, {}, warnings);
    policies =
        tr::authzPoliciesFor(config, tr::MeshSettings{},
                             tr::AuthzScope{"default", {{"app", "server"}}, false}, warnings);
    const int64_t now = static_cast<int64_t>(::time(nullptr));
    bearer = "Bearer " + token(key.get(), "RS256",
                               std::string("{\"iss\":\"") + kIssuer +
                                   "\",\"sub\":\"bench-user\",\"aud\":\"server\",\"exp\":" +
                                   std::to_string(now + 86400) +
                                   ",\"groups\":[\"readers\",\"writers\"],\"org\":{\"tier\":"
                                   "\"gold\"}}",
                               "bench");
    headers = {{"host", "server-svc"},    {"user-agent", "wrk"},   {"accept", "*/*"},
               {"authorization", bearer}, {"x-request-id", "abc"}, {"x-forwarded-proto", "http"}};
  }

  http::RequestView view() const {
    http::RequestView v;
    v.method = "GET";
    v.path = "/";
    v.authority = "server-svc";
    v.scheme = "http";
    v.headers = headers;
    return v;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_AuthenticateCachedToken(benchmark::State& state) {
  Fixture& f = fixture();
  authn::Authenticator a(f.rules);
  const http::RequestView v = f.view();
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  for (auto _ : state) {
    authn::AuthnOutcome o = a.authenticate(v, now);
    if (o.kind != authn::AuthnOutcome::Kind::kVerified) state.SkipWithError("not verified");
    benchmark::DoNotOptimize(o);
  }
}
BENCHMARK(BM_AuthenticateCachedToken);

void BM_AuthenticateUncachedToken(benchmark::State& state) {
  Fixture& f = fixture();
  authn::Authenticator a(f.rules, 0);
  const http::RequestView v = f.view();
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  for (auto _ : state) {
    authn::AuthnOutcome o = a.authenticate(v, now);
    if (o.kind != authn::AuthnOutcome::Kind::kVerified) state.SkipWithError("not verified");
    benchmark::DoNotOptimize(o);
  }
}
BENCHMARK(BM_AuthenticateUncachedToken);

void BM_Authorize20PoliciesWithJwt(benchmark::State& state) {
  Fixture& f = fixture();
  if (f.policies.size() != 20) state.SkipWithError("expected 20 policies");
  authn::Authenticator a(f.rules);
  http::RequestView v = f.view();
  const authn::AuthnOutcome o = a.authenticate(v, static_cast<int64_t>(::time(nullptr)));
  v.auth = o.jwt.get();
  v.claim = [](const void* auth, std::string_view path, std::vector<std::string>& out) {
    static_cast<const authn::VerifiedJwt*>(auth)->claimValues(path, out);
  };
  authz::AuthzRequest r;
  r.peer_principal = "spiffe://cluster.local/ns/default/sa/client";
  r.source_ip = r.remote_ip = "127.0.0.1";
  r.destination_ip = "127.0.0.1";
  r.destination_port = 8080;
  r.host = v.authority;
  r.method = v.method;
  r.path = v.path;
  r.context = &v;
  r.header = [](const void* view, std::string_view name) {
    return static_cast<const http::RequestView*>(view)->header(name);
  };
  r.has_jwt = true;
  r.request_principal = o.jwt->principal;
  r.presenter = o.jwt->presenter;
  r.audiences = &o.jwt->audiences;
  r.claim = [](const void* view, std::string_view path, std::vector<std::string>& out) {
    const auto* rv = static_cast<const http::RequestView*>(view);
    rv->claim(rv->auth, path, out);
  };
  for (auto _ : state) {
    const authz::AuthzDecision d = authz::authorize(f.policies, r);
    if (!d.allowed) state.SkipWithError("denied");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_Authorize20PoliciesWithJwt);

}  // namespace

BENCHMARK_MAIN();
