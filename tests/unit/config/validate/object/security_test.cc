#include <gmock/gmock.h>

#include "validate_test_util.h"

namespace halyard::config {
namespace {

using testing::describe;
using ::testing::ElementsAre;
using testing::errorPaths;
using ::testing::IsEmpty;
using testing::validate;

std::string policy(const std::string& kind, const std::string& spec,
                   const std::string& annotations = "") {
  return "apiVersion: security.istio.io/v1\nkind: " + kind +
         "\nmetadata:\n  name: p\n"
         "  namespace: ns\n" +
         annotations + "spec:\n" + spec;
}

std::string authz(const std::string& spec) {
  return policy("AuthorizationPolicy", spec);
}

TEST(AuthorizationPolicyValidation, AcceptsTypicalPolicies) {
  auto d =
      validate(authz("  action: ALLOW\n  rules:\n  - from:\n    - source:\n"
                     "        principals: [cluster.local/ns/default/sa/sleep]\n"
                     "        ipBlocks: [10.0.0.0/8, 1.2.3.4]\n    to:\n    - operation:\n"
                     "        methods: [GET]\n        paths: [\"/api/*\", \"/v1/{*}/items\"]\n"
                     "        ports: [\"8080\"]\n    when:\n    - key: request.auth.claims[iss]\n"
                     "      values: [\"https://accounts.google.com\"]\n"
                     "    - key: source.trustDomain\n      values: [cluster.local]\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  // No rules: an ALLOW policy that denies everything, which is valid.
  EXPECT_THAT(validate(authz("  selector:\n    matchLabels:\n      app: a\n")), IsEmpty());
}

TEST(AuthorizationPolicyValidation, ActionsAndProvider) {
  EXPECT_THAT(errorPaths(validate(authz("  action: DENY\n"))), ElementsAre("spec.rules"));
  EXPECT_THAT(errorPaths(validate(authz("  action: CUSTOM\n  provider:\n    name: ext\n"))),
              ElementsAre("spec.rules"));
  EXPECT_THAT(errorPaths(validate(authz("  action: CUSTOM\n  rules:\n  - {}\n"))),
              ElementsAre("spec.provider.name"));
  EXPECT_THAT(
      errorPaths(validate(authz("  action: DENY\n  provider:\n    name: ext\n  rules:\n  - {}\n"))),
      ElementsAre("spec.provider"));
  auto d =
      validate(authz("  action: CUSTOM\n  provider:\n    name: ext\n  rules:\n  - from:\n"
                     "    - source:\n        principals: [a]\n    when:\n"
                     "    - key: request.auth.principal\n      values: [x]\n"));
  EXPECT_THAT(errorPaths(d),
              ElementsAre("spec.rules[0].from[0].source.principals", "spec.rules[0].when[0].key"));
}

TEST(AuthorizationPolicyValidation, FromAndTo) {
  auto rule = [](const std::string& r) {
    return errorPaths(validate(authz("  rules:\n  - " + r)));
  };
  EXPECT_THAT(rule("from:\n    - {}\n"), ElementsAre("spec.rules[0].from[0].source"));
  EXPECT_THAT(rule("from:\n    - source: {}\n"), ElementsAre("spec.rules[0].from[0].source"));
  EXPECT_THAT(rule("to:\n    - operation: {}\n"), ElementsAre("spec.rules[0].to[0].operation"));
  EXPECT_THAT(rule("from:\n    - source:\n        ipBlocks: [10.0.0.300]\n"),
              ElementsAre("spec.rules[0].from[0].source.ipBlocks[0]"));
  EXPECT_THAT(rule("from:\n    - source:\n        namespaces: [\"\"]\n"),
              ElementsAre("spec.rules[0].from[0].source.namespaces[0]"));
  EXPECT_THAT(rule("from:\n    - source:\n        serviceAccounts: [\"ns/*\"]\n"),
              ElementsAre("spec.rules[0].from[0].source.serviceAccounts[0]"));
  EXPECT_THAT(rule("to:\n    - operation:\n        ports: [\"99999\"]\n"),
              ElementsAre("spec.rules[0].to[0].operation.ports[0]"));
  EXPECT_THAT(rule("to:\n    - operation:\n        paths: [\"/{name}/{*}\"]\n"),
              ElementsAre("spec.rules[0].to[0].operation.paths[0]"));
  EXPECT_THAT(rule("to:\n    - operation:\n        paths: [\"/{**}/path/template\"]\n"), IsEmpty());
}

TEST(AuthorizationPolicyValidation, WhenConditions) {
  auto when = [](const std::string& w) {
    return errorPaths(validate(authz("  rules:\n  - when:\n    - " + w)));
  };
  EXPECT_THAT(when("key: request.headers[x-token]\n      values: [a]\n"), IsEmpty());
  EXPECT_THAT(when("key: experimental.envoy.filters.a.b[c]\n      notValues: [a]\n"), IsEmpty());
  EXPECT_THAT(when("key: request.host\n      values: [a]\n"),
              ElementsAre("spec.rules[0].when[0].key"));
  EXPECT_THAT(when("key: request.headers\n      values: [a]\n"),
              ElementsAre("spec.rules[0].when[0].key"));
  EXPECT_THAT(when("key: destination.labels[app]\n      values: [a]\n"),
              ElementsAre("spec.rules[0].when[0].key"));
  EXPECT_THAT(when("key: source.ip\n"), ElementsAre("spec.rules[0].when[0]"));
  EXPECT_THAT(when("key: source.ip\n      values: [\"1.2.3\"]\n"),
              ElementsAre("spec.rules[0].when[0].values[0]"));
  EXPECT_THAT(when("key: destination.port\n      notValues: [http]\n"),
              ElementsAre("spec.rules[0].when[0].notValues[0]"));
  EXPECT_THAT(when("key: \"\"\n      values: [a]\n"), ElementsAre("spec.rules[0].when[0].key"));
}

TEST(AuthorizationPolicyValidation, TargetRefs) {
  auto d =
      validate(authz("  targetRefs:\n  - kind: Gateway\n    group: gateway.networking.k8s.io\n"
                     "    name: gw\n  - kind: Service\n    group: \"\"\n    name: svc\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  d = validate(authz("  targetRef:\n    kind: Deployment\n    group: apps\n    name: d\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.targetRef"));
}

TEST(AuthorizationPolicyValidation, DryRunAnnotation) {
  const std::string rules = "  rules:\n  - {}\n";
  auto annotated = [&](const std::string& value, const std::string& spec) {
    return errorPaths(validate(policy(
        "AuthorizationPolicy", spec, "  annotations:\n    istio.io/dry-run: \"" + value + "\"\n")));
  };
  EXPECT_THAT(annotated("true", rules), IsEmpty());
  EXPECT_THAT(annotated("yes", rules), ElementsAre("metadata.annotations[istio.io/dry-run]"));
  EXPECT_THAT(annotated("true", "  action: AUDIT\n" + rules),
              ElementsAre("metadata.annotations[istio.io/dry-run]"));
  auto d = validate(policy("PeerAuthentication", "  mtls:\n    mode: STRICT\n",
                           "  annotations:\n    istio.io/dry-run: \"true\"\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("metadata.annotations[istio.io/dry-run]"));
}

TEST(RequestAuthenticationValidation, JwtRules) {
  auto rule = [](const std::string& r) {
    return errorPaths(validate(policy("RequestAuthentication", "  jwtRules:\n  - " + r)));
  };
  EXPECT_THAT(
      rule("issuer: https://issuer.example.com\n    jwksUri: https://issuer.example.com/jwks\n"
           "    outputClaimToHeaders:\n    - header: x-user\n      claim: sub\n    timeout: 5s\n"),
      IsEmpty());
  // Without an issuer, Istio reads it from the JWKS URI's provider.
  EXPECT_THAT(rule("jwksUri: https://issuer.example.com/jwks\n"), IsEmpty());
  EXPECT_THAT(rule("fromHeaders:\n    - name: authorization\n"),
              ElementsAre("spec.jwtRules[0].issuer"));
  EXPECT_THAT(
      rule("issuer: a\n    outputClaimToHeaders:\n    - header: x_user\n      claim: sub\n"),
      ElementsAre("spec.jwtRules[0].outputClaimToHeaders[0].header"));
  EXPECT_THAT(rule("issuer: a\n    timeout: 1.5ms\n"), ElementsAre("spec.jwtRules[0].timeout"));
}

TEST(RequestAuthenticationValidation, InlineJwks) {
  auto jwks = [](const std::string& j) {
    return errorPaths(validate(
        policy("RequestAuthentication", "  jwtRules:\n  - issuer: a\n    jwks: '" + j + "'\n")));
  };
  EXPECT_THAT(jwks(R"({"keys":[{"kty":"RSA","e":"AQAB","n":"xyz","kid":"1"}]})"), IsEmpty());
  EXPECT_THAT(jwks(R"({"kty":"EC","crv":"P-256","x":"a","y":"b"})"), IsEmpty());
  EXPECT_THAT(jwks("not json"), ElementsAre("spec.jwtRules[0].jwks"));
  EXPECT_THAT(jwks(R"({"keys":[{"kty":"RSA","e":"AQAB"}]})"), ElementsAre("spec.jwtRules[0].jwks"));
  EXPECT_THAT(jwks(R"({"keys":[{"kty":"XYZ"}]})"), ElementsAre("spec.jwtRules[0].jwks"));
}

TEST(PeerAuthenticationValidation, OnlyTheCrdRulesApply) {
  auto d = validate(policy("PeerAuthentication",
                           "  selector:\n    matchLabels:\n      app: a\n"
                           "  portLevelMtls:\n    \"8080\":\n      mode: DISABLE\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
}

}  // namespace
}  // namespace halyard::config
