// PeerAuthentication's effective mode (istio-semantics.md §7): mesh, namespace and workload
// levels, UNSET inheritance, the oldest policy of a level, root-namespace selector policies
// ignored, portLevelMtls; and the mesh settings (trust domain, root namespace) from the istio
// ConfigMap.
#include "translate/peer_authentication.h"

#include <gtest/gtest.h>

#include "translate/mesh_settings.h"
#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

using Labels = std::map<std::string, std::string>;

// A PeerAuthentication; `extra` is appended to its spec (already indented).
std::string policy(std::string_view ns, std::string_view name, std::string_view spec,
                   std::string_view created = "") {
  std::string yaml = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n";
  yaml += "  name: " + std::string(name) + "\n  namespace: " + std::string(ns) + "\n";
  if (!created.empty()) yaml += "  creationTimestamp: \"" + std::string(created) + "\"\n";
  yaml += "spec:\n" + std::string(spec) + "---\n";
  return yaml;
}

InboundMtls effectiveFor(const std::string& yaml, std::string_view ns, const Labels& labels,
                         uint16_t port = 8080, std::string root = "istio-system") {
  const config::model::ConfigSet config = parseConfig(yaml);
  return PeerAuthenticationIndex(config, std::move(root)).effective(ns, labels, port);
}

TEST(PeerAuthenticationTest, NoPolicyIsPermissive) {
  const InboundMtls m = effectiveFor("", "shop", {{"app", "web"}});
  EXPECT_EQ(m.mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(m.origin, "default (no PeerAuthentication applies)");
  // A policy elsewhere does not apply either.
  const InboundMtls other = effectiveFor(policy("billing", "strict", "  mtls: {mode: STRICT}\n"),
                                         "shop", {{"app", "web"}});
  EXPECT_EQ(other.mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(other.origin, "default (no PeerAuthentication applies)");
}

TEST(PeerAuthenticationTest, WorkloadOverridesNamespaceOverridesMesh) {
  const std::string yaml =
      policy("istio-system", "default", "  mtls: {mode: STRICT}\n") +
      policy("shop", "ns-wide", "  mtls: {mode: PERMISSIVE}\n") +
      policy("shop", "web-only",
             "  selector: {matchLabels: {app: web}}\n  mtls: {mode: DISABLE}\n");
  const InboundMtls web = effectiveFor(yaml, "shop", {{"app", "web"}, {"version", "v1"}});
  EXPECT_EQ(web.mode, PeerAuthMode::kDisable);
  EXPECT_EQ(web.origin, "PeerAuthentication shop/web-only (workload)");
  const InboundMtls api = effectiveFor(yaml, "shop", {{"app", "api"}});
  EXPECT_EQ(api.mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(api.origin, "PeerAuthentication shop/ns-wide (namespace)");
  const InboundMtls elsewhere = effectiveFor(yaml, "billing", {{"app", "web"}});
  EXPECT_EQ(elsewhere.mode, PeerAuthMode::kStrict);
  EXPECT_EQ(elsewhere.origin, "PeerAuthentication istio-system/default (mesh)");
}

TEST(PeerAuthenticationTest, UnsetInheritsFromTheLevelAbove) {
  const std::string yaml =
      policy("istio-system", "default", "  mtls: {mode: STRICT}\n") +
      policy("shop", "ns-unset", "  mtls: {mode: UNSET}\n") +
      // No mtls block at all is UNSET too; only its port entry decides anything.
      policy("shop", "web", "  selector: {matchLabels: {app: web}}\n");
  const InboundMtls m = effectiveFor(yaml, "shop", {{"app", "web"}});
  EXPECT_EQ(m.mode, PeerAuthMode::kStrict);
  EXPECT_EQ(m.origin, "PeerAuthentication istio-system/default (mesh)");
  // Every level UNSET: Istio's PERMISSIVE, saying that policies applied but set nothing.
  const InboundMtls none =
      effectiveFor(policy("shop", "ns-unset", "  mtls: {mode: UNSET}\n"), "shop", {{"app", "web"}});
  EXPECT_EQ(none.mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(none.origin, "default (no PeerAuthentication sets a mode)");
}

TEST(PeerAuthenticationTest, TheOldestPolicyOfALevelWins) {
  // Written newest first: creation time decides, not file order; the same time falls back to
  // the name.
  const std::string yaml =
      policy("shop", "newer", "  mtls: {mode: DISABLE}\n", "2024-05-02T00:00:00Z") +
      policy("shop", "older", "  mtls: {mode: STRICT}\n", "2024-05-01T00:00:00Z") +
      policy("shop", "web-b", "  selector: {matchLabels: {app: web}}\n  mtls: {mode: STRICT}\n",
             "2024-06-01T00:00:00Z") +
      policy("shop", "web-a", "  selector: {matchLabels: {tier: front}}\n  mtls: {mode: DISABLE}\n",
             "2024-06-01T00:00:00Z");
  const InboundMtls api = effectiveFor(yaml, "shop", {{"app", "api"}});
  EXPECT_EQ(api.mode, PeerAuthMode::kStrict);
  EXPECT_EQ(api.origin, "PeerAuthentication shop/older (namespace)");
  const InboundMtls web = effectiveFor(yaml, "shop", {{"app", "web"}, {"tier", "front"}});
  EXPECT_EQ(web.mode, PeerAuthMode::kDisable);
  EXPECT_EQ(web.origin, "PeerAuthentication shop/web-a (workload)");
  // The oldest matching policy counts even when it leaves the mode UNSET.
  const std::string unset_oldest =
      policy("shop", "web-old", "  selector: {matchLabels: {app: web}}\n  mtls: {mode: UNSET}\n",
             "2024-01-01T00:00:00Z") +
      policy("shop", "web-new", "  selector: {matchLabels: {app: web}}\n  mtls: {mode: STRICT}\n",
             "2024-02-01T00:00:00Z");
  EXPECT_EQ(effectiveFor(unset_oldest, "shop", {{"app", "web"}}).mode, PeerAuthMode::kPermissive);
}

TEST(PeerAuthenticationTest, SelectorPoliciesInTheRootNamespaceAreIgnored) {
  const std::string yaml =
      policy("istio-system", "gw-strict",
             "  selector: {matchLabels: {app: web}}\n  mtls: {mode: STRICT}\n") +
      policy("istio-system", "empty-selector",
             "  selector: {matchLabels: {}}\n  mtls: {mode: DISABLE}\n");
  // Not for a workload elsewhere, nor for one in the root namespace itself; a selector without
  // labels is the mesh-wide policy.
  const InboundMtls shop = effectiveFor(yaml, "shop", {{"app", "web"}});
  EXPECT_EQ(shop.mode, PeerAuthMode::kDisable);
  EXPECT_EQ(shop.origin, "PeerAuthentication istio-system/empty-selector (mesh)");
  EXPECT_EQ(effectiveFor(yaml, "istio-system", {{"app", "web"}}).mode, PeerAuthMode::kDisable);
  // Another root namespace makes istio-system an ordinary one.
  const InboundMtls moved = effectiveFor(yaml, "istio-system", {{"app", "web"}}, 8080, "mesh-root");
  EXPECT_EQ(moved.mode, PeerAuthMode::kStrict);
  EXPECT_EQ(moved.origin, "PeerAuthentication istio-system/gw-strict (workload)");
}

TEST(PeerAuthenticationTest, PortLevelMtlsOverridesTheWorkloadModeOnItsPort) {
  const std::string yaml = policy("shop", "ns", "  mtls: {mode: STRICT}\n") +
                           policy("shop", "web", R"(  selector: {matchLabels: {app: web}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    "8080": {mode: DISABLE}
    "9090": {mode: UNSET}
)");
  const Labels web{{"app", "web"}};
  const InboundMtls on_8080 = effectiveFor(yaml, "shop", web, 8080);
  EXPECT_EQ(on_8080.mode, PeerAuthMode::kDisable);
  EXPECT_EQ(on_8080.origin, "PeerAuthentication shop/web (workload, port 8080)");
  // UNSET: the workload's own mode; a port not listed: the same.
  const InboundMtls on_9090 = effectiveFor(yaml, "shop", web, 9090);
  EXPECT_EQ(on_9090.mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(on_9090.origin, "PeerAuthentication shop/web (workload)");
  EXPECT_EQ(effectiveFor(yaml, "shop", web, 7070).mode, PeerAuthMode::kPermissive);
  // A workload policy that sets only a port inherits the namespace's mode elsewhere.
  const std::string only_port = policy("shop", "ns", "  mtls: {mode: STRICT}\n") +
                                policy("shop", "web",
                                       "  selector: {matchLabels: {app: web}}\n  portLevelMtls:\n"
                                       "    \"8080\": {mode: PERMISSIVE}\n");
  EXPECT_EQ(effectiveFor(only_port, "shop", web, 8080).mode, PeerAuthMode::kPermissive);
  EXPECT_EQ(effectiveFor(only_port, "shop", web, 9090).mode, PeerAuthMode::kStrict);
}

// ---- mesh settings ---------------------------------------------------------------------------

std::string meshConfigMap(std::string_view mesh, std::string_view ns = "istio-system") {
  std::string yaml =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: " + std::string(ns) +
      "}\ndata:\n  mesh: |\n";
  size_t start = 0;
  while (start < mesh.size()) {
    size_t end = mesh.find('\n', start);
    if (end == std::string_view::npos) end = mesh.size();
    yaml += "    " + std::string(mesh.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return yaml + "---\n";
}

TEST(MeshSettingsTest, IstioDefaultsWithoutTheConfigMap) {
  const MeshSettingsSource s = readMeshSettings(parseConfig(""));
  EXPECT_EQ(s.settings.trust_domain, "cluster.local");
  EXPECT_EQ(s.settings.root_namespace, "istio-system");
  EXPECT_EQ(s.config_map, nullptr);
  EXPECT_EQ(s.error, "");
  // The ConfigMap of another namespace is not istiod's.
  const config::model::ConfigSet elsewhere =
      parseConfig(meshConfigMap("trustDomain: example.org", "default"));
  EXPECT_EQ(meshSettings(elsewhere).trust_domain, "cluster.local");
}

TEST(MeshSettingsTest, ReadsTrustDomainAndRootNamespace) {
  const config::model::ConfigSet config = parseConfig(meshConfigMap(
      "trustDomain: example.org\nrootNamespace: mesh-root\ndefaultConfig:\n  concurrency: 2"));
  const MeshSettingsSource s = readMeshSettings(config);
  EXPECT_EQ(s.error, "");
  ASSERT_NE(s.config_map, nullptr);
  EXPECT_EQ(s.settings.trust_domain, "example.org");
  EXPECT_EQ(s.settings.root_namespace, "mesh-root");
  // Fields left out keep Istio's defaults.
  EXPECT_EQ(meshSettings(parseConfig(meshConfigMap("trustDomain: corp.internal"))).root_namespace,
            "istio-system");
  EXPECT_EQ(meshSettings(parseConfig(meshConfigMap("enableAutoMtls: true"))).trust_domain,
            "cluster.local");
}

TEST(MeshSettingsTest, AnUnusableMeshValueGivesTheDefaultsAndSaysWhy) {
  auto errorOf = [](std::string_view mesh) {
    const config::model::ConfigSet config = parseConfig(meshConfigMap(mesh));
    const MeshSettingsSource s = readMeshSettings(config);
    EXPECT_EQ(s.settings.trust_domain, "cluster.local") << mesh;
    EXPECT_EQ(s.settings.root_namespace, "istio-system") << mesh;
    return s.error;
  };
  EXPECT_NE(errorOf("trustDomain: [example.org\nrootNamespace: mesh-root")
                .find("the mesh config (data.mesh) is not used: it does not parse as YAML: "
                      "data.mesh:"),
            std::string::npos);
  EXPECT_EQ(errorOf("just text"),
            "the mesh config (data.mesh) is not used: it is a string, a map of MeshConfig fields "
            "was expected; Istio's defaults apply (trust domain cluster.local, root namespace "
            "istio-system, outboundTrafficPolicy ALLOW_ANY)");
  EXPECT_NE(errorOf("trustDomain: {a: b}\nrootNamespace: mesh-root")
                .find("trustDomain is an object, a string was expected"),
            std::string::npos);
  EXPECT_NE(errorOf("trustDomain: Example.ORG/x")
                .find("trustDomain \"Example.ORG/x\" is not a "
                      "DNS name"),
            std::string::npos);
  EXPECT_NE(errorOf("rootNamespace: Mesh_Root").find("rootNamespace \"Mesh_Root\" is not"),
            std::string::npos);
}

TEST(MeshSettingsTest, ReadsOutboundTrafficPolicy) {
  EXPECT_FALSE(
      meshSettings(parseConfig(meshConfigMap("trustDomain: corp.internal"))).registry_only);
  EXPECT_FALSE(meshSettings(parseConfig(meshConfigMap("outboundTrafficPolicy: {mode: ALLOW_ANY}")))
                   .registry_only);
  EXPECT_TRUE(
      meshSettings(parseConfig(meshConfigMap("outboundTrafficPolicy:\n  mode: REGISTRY_ONLY")))
          .registry_only);
  const MeshSettingsSource bad =
      readMeshSettings(parseConfig(meshConfigMap("outboundTrafficPolicy: {mode: DENY}")));
  EXPECT_FALSE(bad.settings.registry_only);
  EXPECT_NE(bad.error.find("outboundTrafficPolicy.mode \"DENY\" is not ALLOW_ANY or REGISTRY_ONLY"),
            std::string::npos)
      << bad.error;
  // The sidecar's outbound proxy listener carries the mode; no other listener does.
  ProxyIdentity sidecar;
  sidecar.role = "sidecar";
  sidecar.namespace_ = "default";
  sidecar.labels = {{"app", "web"}};
  const TranslateResult r =
      translateYaml(meshConfigMap("outboundTrafficPolicy: {mode: REGISTRY_ONLY}"), sidecar);
  const Snapshot& s = snapshotOf(r);
  bool found = false;
  for (const Listener& l : s.listeners) {
    EXPECT_EQ(l.registry_only, l.kind == ListenerKind::kOutboundProxy) << l.name;
    found |= l.kind == ListenerKind::kOutboundProxy;
  }
  EXPECT_TRUE(found);
}

TEST(MeshSettingsTest, TranslationWarnsAboutAnUnusableMeshConfig) {
  const TranslateResult r = translateYaml(meshConfigMap("trustDomain: [broken"));
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("ConfigMap istio-system/istio: the mesh config (data.mesh) is not "
                               "used: it does not parse as YAML"),
            std::string::npos)
      << s.warnings[0];
  EXPECT_EQ(r.diagnostics.at(0).code, "HAL0106");
}

}  // namespace
}  // namespace halyard::translate
