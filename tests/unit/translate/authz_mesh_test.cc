// What the AuthorizationPolicy side reads from MeshConfig (extensionProviders of the ext_authz
// kinds, gatewayTopology.numTrustedProxies, pathNormalization) and what the compiler does with
// it: CUSTOM policies carry their provider and its cluster, a missing provider is a warning
// with the policy's file:line, targetRefs select gateways by their Gateway API name.
#include <gtest/gtest.h>

#include "translate/authz_compiler.h"
#include "translate/mesh_settings.h"
#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

std::string meshConfig(const std::string& mesh) {
  std::string indented;
  size_t start = 0;
  while (start < mesh.size()) {
    const size_t end = mesh.find('\n', start);
    indented += "    " + mesh.substr(start, end - start) + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
         "data:\n  mesh: |\n" +
         indented + "---\n";
}

constexpr const char* kProviders = R"(extensionProviders:
- name: http
  envoyExtAuthzHttp:
    service: ext-authz.foo.svc.cluster.local
    port: 8000
    timeout: 0.25s
    pathPrefix: /check
    failOpen: true
    statusOnError: "503"
    includeRequestHeadersInCheck: [X-Ext-Authz, "x-b3-*"]
    includeAdditionalHeadersInCheck: {X-Added: yes-it-is}
    headersToUpstreamOnAllow: [x-user]
    headersToDownstreamOnDeny: [x-reason]
- name: grpc
  envoyExtAuthzGrpc:
    service: foo/authz.foo.svc.cluster.local
    port: 9000
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
defaultConfig:
  gatewayTopology: {numTrustedProxies: 2}
pathNormalization: {normalization: MERGE_SLASHES}
)";

TEST(AuthzMeshSettings, ReadsExtAuthzProvidersTopologyAndNormalization) {
  const MeshSettingsSource s = readMeshSettings(parseConfig(meshConfig(kProviders)));
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(s.settings.ext_authz_providers.size(), 2u);
  const AuthzExtProvider& http = s.settings.ext_authz_providers[0];
  EXPECT_EQ(http.name, "http");
  EXPECT_EQ(http.protocol, AuthzExtProvider::Protocol::kHttp);
  EXPECT_EQ(http.port, 8000);
  EXPECT_EQ(http.timeout_ms, 250u);
  EXPECT_EQ(http.path_prefix, "/check");
  EXPECT_TRUE(http.fail_open);
  EXPECT_EQ(http.status_on_error, 503);
  ASSERT_EQ(http.include_request_headers.size(), 2u);
  EXPECT_EQ(http.include_request_headers[0].value, "x-ext-authz");  // compared lowercase
  EXPECT_EQ(http.include_request_headers[1].kind, AuthzMatcher::Kind::kPrefix);
  ASSERT_EQ(http.include_additional_headers.size(), 1u);
  EXPECT_EQ(http.include_additional_headers[0].first, "x-added");
  const AuthzExtProvider& grpc = s.settings.ext_authz_providers[1];
  EXPECT_EQ(grpc.protocol, AuthzExtProvider::Protocol::kGrpc);
  EXPECT_EQ(grpc.timeout_ms, 600u * 1000);  // Istio's default
  EXPECT_EQ(grpc.status_on_error, 403);
  EXPECT_EQ(s.settings.num_trusted_proxies, 2u);
  EXPECT_EQ(s.settings.path_normalization, PathNormalization::kMergeSlashes);
}

TEST(AuthzMeshSettings, DefaultsAndMeshLevelTopology) {
  const MeshSettingsSource none = readMeshSettings(parseConfig(""));
  EXPECT_EQ(none.settings.num_trusted_proxies, 0u);
  EXPECT_EQ(none.settings.path_normalization, PathNormalization::kBase);
  const MeshSettingsSource mesh = readMeshSettings(parseConfig(meshConfig(
      "gatewayTopology: {numTrustedProxies: 1}\npathNormalization: {normalization: NONE}\n")));
  ASSERT_TRUE(mesh.error.empty()) << mesh.error;
  EXPECT_EQ(mesh.settings.num_trusted_proxies, 1u);
  EXPECT_EQ(mesh.settings.path_normalization, PathNormalization::kNone);
}

TEST(AuthzMeshSettings, ProblemsAreSentences) {
  auto error = [](const std::string& mesh) {
    return readMeshSettings(parseConfig(meshConfig(mesh))).error;
  };
  EXPECT_NE(error("extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {port: 80}\n")
                .find("has no service"),
            std::string::npos);
  EXPECT_NE(
      error("extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {service: s, port: 70000}\n")
          .find("port is \"70000\", an integer from 0 to 65535 was expected"),
      std::string::npos);
  EXPECT_NE(error("pathNormalization: {normalization: SOMETIMES}\n").find("SOMETIMES"),
            std::string::npos);
  EXPECT_NE(error("extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: s, port: 1, "
                  "timeout: soon}\n")
                .find("timeout \"soon\" is not a duration"),
            std::string::npos);
}

std::string customPolicy(const std::string& provider) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext, "
         "namespace: shop}\nspec:\n  action: CUSTOM\n  provider: {name: " +
         provider + "}\n  rules: [{}]\n---\n";
}

TEST(AuthzMeshSettings, CustomPoliciesCarryTheirProviderAndCluster) {
  const auto config = parseConfig(meshConfig(kProviders) + customPolicy("grpc"));
  std::vector<std::string> warnings;
  const auto policies = authzPoliciesFor(config, readMeshSettings(config).settings,
                                         AuthzScope{"shop", {{"app", "web"}}, false}, warnings);
  ASSERT_EQ(policies.size(), 1u);
  ASSERT_TRUE(policies[0].ext_provider);
  EXPECT_EQ(policies[0].ext_provider->cluster, "outbound|9000||authz.foo.svc.cluster.local");
  EXPECT_TRUE(warnings.empty());
}

TEST(AuthzMeshSettings, AMissingProviderIsAWarningWithFileAndLine) {
  const auto config = parseConfig(meshConfig(kProviders) + customPolicy("nope"));
  std::vector<std::string> warnings;
  const auto policies = authzPoliciesFor(config, readMeshSettings(config).settings,
                                         AuthzScope{"shop", {}, false}, warnings);
  ASSERT_EQ(policies.size(), 1u);
  EXPECT_FALSE(policies[0].ext_provider);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("AuthorizationPolicy shop/ext: CUSTOM provider \"nope\""),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find(".yaml:"), std::string::npos) << warnings[0];
}

TEST(AuthzMeshSettings, TargetRefsSelectGatewaysByName) {
  const std::string yaml =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: gw, "
      "namespace: istio-system}\nspec:\n  targetRefs:\n  - {group: gateway.networking.k8s.io, "
      "kind: Gateway, name: edge}\n  action: DENY\n  rules: [{}]\n---\n"
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: svc, "
      "namespace: istio-system}\nspec:\n  targetRefs:\n  - {kind: Service, name: web}\n"
      "  rules: [{}]\n---\n";
  const auto config = parseConfig(yaml);
  std::vector<std::string> warnings;
  auto selected = authzPoliciesFor(
      config, MeshSettings{},
      AuthzScope{"istio-system", {{"gateway.networking.k8s.io/gateway-name", "edge"}}, false},
      warnings);
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].name, "istio-system/gw");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("targetRefs Service web is not enforced"), std::string::npos)
      << warnings[0];
  warnings.clear();
  EXPECT_TRUE(authzPoliciesFor(config, MeshSettings{},
                               AuthzScope{"istio-system", {{"istio", "ingressgateway"}}, false},
                               warnings)
                  .empty());
}

}  // namespace
}  // namespace halyard::translate
