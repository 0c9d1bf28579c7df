#include <gtest/gtest.h>

#include "config/validate/analyzers/policy_analyzers.h"
#include "policy_test_util.h"

namespace halyard::config {
namespace {

using testing::runAnalyzer;
using Keys = std::vector<std::string>;

constexpr const char* kWorkloads = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod-shop}
---
apiVersion: v1
kind: Pod
metadata: {name: cart, namespace: shop, labels: {app: cart}}
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: plain, labels: {app: legacy}}
---
apiVersion: v1
kind: Pod
metadata: {name: proxied, namespace: plain, labels: {app: proxied}}
spec:
  containers: [{name: app}, {name: istio-proxy, image: proxyv2}]
---
apiVersion: v1
kind: Pod
metadata:
  name: amb
  namespace: amb
  labels: {app: amb}
  annotations: {ambient.istio.io/redirection: enabled}
---
)";

std::string policy(const std::string& name, const std::string& ns, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec + "---\n";
}

TEST(AuthorizationPoliciesAnalyzer, PoliciesMustSelectMeshWorkloads) {
  auto a = makeAuthorizationPoliciesAnalyzer();
  auto run = runAnalyzer(
      *a, std::string(kWorkloads) + policy("ns-wide", "shop", "  action: ALLOW\n") +
              policy("cart", "shop", "  selector: {matchLabels: {app: cart}}\n") +
              policy("nopods", "shop", "  selector: {matchLabels: {app: nope}}\n") +
              policy("empty-ns", "nobody", "  action: ALLOW\n") +
              // "legacy" is not in the mesh (no proxy, no injection), "proxied" is.
              policy("legacy", "plain", "  selector: {matchLabels: {app: legacy}}\n") +
              policy("proxied", "plain", "  selector: {matchLabels: {app: proxied}}\n") +
              policy("ambient", "amb", "  selector: {matchLabels: {app: amb}}\n") +
              // Root-namespace policies apply across the mesh.
              policy("mesh", "istio-system", "  action: ALLOW\n") +
              policy("mesh-cart", "istio-system", "  selector: {matchLabels: {app: cart}}\n") +
              policy("mesh-none", "istio-system", "  selector: {matchLabels: {app: none}}\n") +
              policy("waypoint", "nobody",
                     "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: "
                     "waypoint}]\n"));
  ASSERT_EQ(run.keys(), (Keys{"IST0127 AuthorizationPolicy istio-system/mesh-none",
                              "IST0127 AuthorizationPolicy nobody/empty-ns",
                              "IST0127 AuthorizationPolicy plain/legacy",
                              "IST0127 AuthorizationPolicy shop/nopods"}));
  EXPECT_NE(run.diagnostics[0].message.find("app=nope"), std::string::npos);
  EXPECT_EQ(run.diagnostics[0].field_path, "spec.selector.matchLabels");
}

TEST(AuthorizationPoliciesAnalyzer, SourceNamespacesMustExist) {
  auto a = makeAuthorizationPoliciesAnalyzer();
  auto run = runAnalyzer(*a, std::string(kWorkloads) + policy("refs", "shop", R"(  rules:
  - from:
    - source:
        namespaces: ["prod-*", "*-shop", "*", shop, "*-bogus"]
    - source:
        notNamespaces: ["bogus-*", plain, ghost]
)"));
  ASSERT_EQ(run.keys(),
            (Keys{"IST0101 AuthorizationPolicy shop/refs", "IST0101 AuthorizationPolicy shop/refs",
                  "IST0101 AuthorizationPolicy shop/refs"}));
  EXPECT_EQ(run.diagnostics[0].message, "Referenced namespace not found: \"*-bogus\"");
  EXPECT_EQ(run.diagnostics[0].field_path, "spec.rules[0].from[0].source.namespaces[4]");
  EXPECT_EQ(run.diagnostics[1].field_path, "spec.rules[0].from[1].source.notNamespaces[0]");
  EXPECT_EQ(run.diagnostics[2].message, "Referenced namespace not found: \"ghost\"");
}

constexpr const char* kIstiod = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  template:
    spec:
      containers:
      - name: discovery
        env: [{name: PILOT_ENABLE_ANALYSIS, value: "true"}]
---
)";

std::string requestAuthn(const std::string& name, const std::string& rule) {
  return "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: " + name +
         ", namespace: default}\nspec:\n  jwtRules: [" + rule + "]\n---\n";
}

TEST(BlockedCidrsAnalyzer, JwksUriWithoutBlockedCidrsOnIstiod) {
  auto a = makeBlockedCidrsAnalyzer();
  auto run =
      runAnalyzer(*a, std::string(kIstiod) +
                          requestAuthn("jwt", "{issuer: a, jwksUri: \"https://a.example/jwks\"}") +
                          requestAuthn("inline", "{issuer: b, jwks: \"{}\"}"));
  ASSERT_EQ(run.keys(), (Keys{"IST0175 Deployment istio-system/istiod"}));
  EXPECT_NE(run.diagnostics[0].message.find("1 RequestAuthentication(s) (default/jwt)"),
            std::string::npos);
  EXPECT_EQ(run.diagnostics[0].pos.line, 7);
}

TEST(BlockedCidrsAnalyzer, QuietWhenConfiguredOrNothingFetches) {
  auto a = makeBlockedCidrsAnalyzer();
  std::string configured = kIstiod;
  configured.replace(configured.find("PILOT_ENABLE_ANALYSIS"), 21, "BLOCKED_CIDRS_IN_JWKS_URIS");
  const std::string ra = requestAuthn("jwt", "{issuer: a, jwksUri: \"https://a.example/jwks\"}");
  EXPECT_TRUE(runAnalyzer(*a, configured + ra).keys().empty());
  EXPECT_TRUE(runAnalyzer(*a, std::string(kIstiod)).keys().empty());
  EXPECT_TRUE(runAnalyzer(*a, std::string(kIstiod) + requestAuthn("inline", "{issuer: b, jwks: x}"))
                  .keys()
                  .empty());
}

TEST(GatewaySelectorAnalyzer, SelectorsOnGatewayApiPodsAreIneffective) {
  auto a = makeGatewaySelectorAnalyzer();
  auto run = runAnalyzer(*a, R"(apiVersion: v1
kind: Pod
metadata:
  name: gw-1
  namespace: default
  labels: {gateway.networking.k8s.io/gateway-name: web}
---
apiVersion: v1
kind: Pod
metadata:
  name: gw-2
  namespace: default
  labels: {gateway.networking.k8s.io/gateway-name: web}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: default}
spec:
  selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: web}}
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: wasm, namespace: default}
spec:
  selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: web}}
  url: oci://example/plugin
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: with-ref, namespace: default}
spec:
  selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: web}}
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: web}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: other-ns, namespace: prod}
spec:
  selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: web}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: no-selector, namespace: default}
spec: {}
)");
  ASSERT_EQ(run.keys(),
            (Keys{"IST0166 AuthorizationPolicy default/ap", "IST0166 WasmPlugin default/wasm"}));
  EXPECT_NE(run.diagnostics[0].message.find("Gateway web"), std::string::npos);
  EXPECT_EQ(run.diagnostics[1].pos.line, 25);  // its spec.selector
}

}  // namespace
}  // namespace halyard::config
