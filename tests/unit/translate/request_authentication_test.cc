// RequestAuthentication compiled into the listeners' jwtRules: scope (root namespace, namespace,
// selector, targetRefs), merging, every jwtRule field, jwksUri resolution and its fail-closed
// fallback, and VirtualService @request.auth.claims matches routed on verified claims.
#include "translate/request_authentication.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

constexpr std::string_view kJwks =
    R"({"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})";

std::string withGateway(std::string_view rest) {
  return std::string(kGateway) + "---\n" + std::string(rest);
}

std::vector<std::string> issuers(const Listener& l) {
  std::vector<std::string> out;
  for (const auto& r : l.jwt_rules) out.push_back(r.issuer);
  return out;
}

TEST(RequestAuthenticationTest, EveryJwtRuleFieldIsCompiled) {
  const std::string yaml = withGateway(R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: https://issuer.example.com
    audiences: [shop, billing]
    jwks: ')" + std::string(kJwks) + R"('
    fromHeaders: [{name: X-Jwt, prefix: "Token "}]
    fromParams: [token]
    fromCookies: [session]
    forwardOriginalToken: true
    outputPayloadToHeader: X-Jwt-Payload
    outputClaimToHeaders: [{header: x-user, claim: sub}]
    spaceDelimitedClaims: [roles]
)");
  const TranslateResult r = translateYaml(yaml);
  const Listener* l = listenerOn(snapshotOf(r), 80);
  ASSERT_NE(l, nullptr);
  ASSERT_EQ(l->jwt_rules.size(), 1u);
  const JwtRule& rule = l->jwt_rules[0];
  EXPECT_EQ(rule.issuer, "https://issuer.example.com");
  EXPECT_EQ(rule.audiences, (std::vector<std::string>{"shop", "billing"}));
  EXPECT_EQ(rule.jwks, kJwks);
  EXPECT_TRUE(rule.jwks_uri.empty());
  ASSERT_EQ(rule.from_headers.size(), 1u);
  EXPECT_EQ(rule.from_headers[0].name, "x-jwt");
  EXPECT_EQ(rule.from_headers[0].prefix, "Token ");
  EXPECT_EQ(rule.from_params, std::vector<std::string>{"token"});
  EXPECT_EQ(rule.from_cookies, std::vector<std::string>{"session"});
  EXPECT_TRUE(rule.forward_original_token);
  EXPECT_EQ(rule.output_payload_to_header, "x-jwt-payload");
  ASSERT_EQ(rule.output_claim_to_headers.size(), 1u);
  EXPECT_EQ(rule.output_claim_to_headers[0],
            (std::pair<std::string, std::string>{"sub", "x-user"}));
  EXPECT_EQ(rule.space_delimited_claims,
            (std::vector<std::string>{"scope", "permission", "roles"}));
  EXPECT_EQ(rule.origin, "istio-system/jwt jwtRules[0]");
}

TEST(RequestAuthenticationTest, ScopesMergeAsIstioDoes) {
  const std::string yaml = withGateway(R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: mesh, namespace: istio-system}
spec:
  jwtRules: [{issuer: mesh-issuer, jwks: ')" +
                                       std::string(kJwks) + R"('}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ns, namespace: shop}
spec:
  jwtRules: [{issuer: shop-issuer, jwks: ')" +
                                       std::string(kJwks) + R"('}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: web-only, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  jwtRules: [{issuer: web-issuer, jwks: ')" +
                                       std::string(kJwks) + R"('}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: other-ns, namespace: billing}
spec:
  jwtRules: [{issuer: billing-issuer, jwks: ')" +
                                       std::string(kJwks) + R"('}]
)");
  const config::model::ConfigSet config = parseConfig(yaml);
  std::vector<std::string> warnings;
  auto names = [](const std::vector<JwtRule>& rules) {
    std::vector<std::string> out;
    for (const auto& r : rules) out.push_back(r.issuer);
    return out;
  };
  EXPECT_EQ(names(jwtRulesFor(config, MeshSettings{}, AuthnScope{"shop", {{"app", "web"}}}, {},
                              warnings)),
            (std::vector<std::string>{"mesh-issuer", "shop-issuer", "web-issuer"}));
  EXPECT_EQ(names(jwtRulesFor(config, MeshSettings{}, AuthnScope{"shop", {{"app", "api"}}}, {},
                              warnings)),
            (std::vector<std::string>{"mesh-issuer", "shop-issuer"}));
  EXPECT_EQ(names(jwtRulesFor(config, MeshSettings{}, AuthnScope{"default", {}}, {}, warnings)),
            std::vector<std::string>{"mesh-issuer"});
}

TEST(RequestAuthenticationTest, TargetRefsNameAGatewayApiGateway) {
  const std::string yaml = R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: edge, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
  jwtRules: [{issuer: edge-issuer, jwks: ')" +
                           std::string(kJwks) + R"('}]
)";
  const config::model::ConfigSet config = parseConfig(yaml);
  std::vector<std::string> warnings;
  EXPECT_EQ(jwtRulesFor(config, MeshSettings{},
                        AuthnScope{"shop", {{"gateway.networking.k8s.io/gateway-name", "edge"}}},
                        {}, warnings)
                .size(),
            1u);
  // Not the gateway it names: nothing, even in the same namespace without a selector.
  EXPECT_TRUE(
      jwtRulesFor(config, MeshSettings{}, AuthnScope{"shop", {{"app", "web"}}}, {}, warnings)
          .empty());
}

TEST(RequestAuthenticationTest, JwksUriIsResolvedOrFailsClosed) {
  const std::string yaml = R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  jwtRules:
  - {issuer: good, jwksUri: "http://keys.example.com/good.json"}
  - {issuer: down, jwksUri: "http://keys.example.com/down.json"}
)";
  const config::model::ConfigSet config = parseConfig(yaml);
  EXPECT_EQ(jwksUris(config), (std::vector<std::string>{"http://keys.example.com/down.json",
                                                        "http://keys.example.com/good.json"}));
  const JwksResolver resolver = [](const std::string& uri) -> std::optional<std::string> {
    if (uri.ends_with("good.json")) return std::string(kJwks);
    return std::nullopt;
  };
  std::vector<std::string> warnings;
  const auto rules =
      jwtRulesFor(config, MeshSettings{}, AuthnScope{"shop", {}}, resolver, warnings);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].jwks, kJwks);
  EXPECT_EQ(rules[0].jwks_uri, "http://keys.example.com/good.json");
  EXPECT_EQ(rules[1].jwks, kUnverifiableJwks);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("http://keys.example.com/down.json could not be fetched"),
            std::string::npos);
}

TEST(RequestAuthenticationTest, WithoutKeysTheIssuersOpenIdConfigurationIsAskedFor) {
  const std::string yaml = R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  jwtRules:
  - issuer: https://idp.example.com/
  - issuer: not-a-url
)";
  const config::model::ConfigSet config = parseConfig(yaml);
  std::vector<std::string> asked;
  const JwksResolver resolver = [&](const std::string& uri) -> std::optional<std::string> {
    asked.push_back(uri);
    return std::string(kJwks);
  };
  std::vector<std::string> warnings;
  const auto rules =
      jwtRulesFor(config, MeshSettings{}, AuthnScope{"shop", {}}, resolver, warnings);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(asked,
            std::vector<std::string>{"https://idp.example.com/.well-known/openid-configuration"});
  EXPECT_EQ(rules[0].jwks, kJwks);
  EXPECT_EQ(rules[1].jwks, kUnverifiableJwks);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("\"not-a-url\" is not a URL"), std::string::npos) << warnings[0];
}

TEST(RequestAuthenticationTest, SidecarInboundCarriesTheRules) {
  const std::string yaml = R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  jwtRules: [{issuer: web-issuer, jwks: ')" +
                           std::string(kJwks) + R"('}]
)";
  ProxyIdentity p;
  p.role = "sidecar";
  p.namespace_ = "default";
  p.labels = {{"app", "web"}};
  p.name = "web-1";
  p.app_port = 8080;
  const TranslateResult r = translateYaml(yaml, p);
  const Snapshot& s = snapshotOf(r);
  for (const auto& l : s.listeners) {
    if (l.kind == ListenerKind::kInbound) {
      EXPECT_EQ(issuers(l), std::vector<std::string>{"web-issuer"});
    } else {
      EXPECT_TRUE(l.jwt_rules.empty()) << l.name;
    }
  }
}

void claimsOf(const void* auth, std::string_view path, std::vector<std::string>& out) {
  const auto* claims = static_cast<const std::map<std::string, std::vector<std::string>>*>(auth);
  const auto it = claims->find(std::string(path));
  if (it != claims->end()) out.insert(out.end(), it->second.begin(), it->second.end());
}

TEST(RequestAuthenticationTest, VirtualServiceClaimMatchesRouteOnVerifiedClaims) {
  const TranslateResult r = translateYaml(withGateway(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http:
  - name: admins
    match:
    - headers:
        "@request.auth.claims.groups": {exact: admin}
    route: [{destination: {host: svc}}]
  - name: team
    match:
    - headers:
        "@request.auth.claims[org][team]": {prefix: pay}
    route: [{destination: {host: svc}}]
  - name: rest
    route: [{destination: {host: svc}}]
)"));
  const Snapshot& s = snapshotOf(r);
  EXPECT_FALSE(hasWarning(r, "never holds"));
  const Listener* l = listenerOn(s, 80);
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(proxy::router::usesClaims(*l->routes));
  auto routeWith = [&](const std::map<std::string, std::vector<std::string>>* claims) {
    Request req;
    req.authority = "shop.example.com";
    proxy::http::RequestView v = req.view();
    if (claims) {
      v.auth = claims;
      v.claim = claimsOf;
    }
    const auto sel = proxy::router::selectRoute(*l->routes, v);
    return sel.route ? sel.route->name : std::string("none");
  };
  EXPECT_EQ(routeWith(nullptr), "rest");
  const std::map<std::string, std::vector<std::string>> admin{{"groups", {"dev", "admin"}}};
  EXPECT_EQ(routeWith(&admin), "admins");
  const std::map<std::string, std::vector<std::string>> team{
      {std::string("org\0team", 8), {"payments"}}};
  EXPECT_EQ(routeWith(&team), "team");
  const std::map<std::string, std::vector<std::string>> neither{{"groups", {"dev"}}};
  EXPECT_EQ(routeWith(&neither), "rest");
}

}  // namespace
}  // namespace halyard::translate
