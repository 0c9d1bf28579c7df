#include "proxy/authz/authorizer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "config/yaml/config_set_builder.h"
#include "config/yaml/loader.h"
#include "translate/authz_compiler.h"

namespace halyard::proxy::authz {
namespace {

namespace tr = halyard::translate;

std::vector<tr::AuthzPolicy> compile(const std::string& yaml, const std::string& ns = "shop",
                                     std::map<std::string, std::string> labels = {{"app", "web"}},
                                     bool tcp = false) {
  config::LoadResult loaded;
  config::loadText(yaml, "test.yaml", loaded);
  EXPECT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().message;
  std::vector<std::string> warnings;
  return tr::authzPoliciesFor(config::buildConfigSet(loaded.objects), tr::MeshSettings{},
                              tr::AuthzScope{ns, std::move(labels), tcp}, warnings);
}

std::string policy(const std::string& name, const std::string& spec, const std::string& ns = "shop",
                   const std::string& extra_meta = "") {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: " + name +
         "\n  namespace: " + ns + "\n" + extra_meta + "spec:\n" + spec + "---\n";
}

struct Request {
  std::map<std::string, std::string> headers;
  std::map<std::string, std::vector<std::string>> claims;
  std::vector<std::string> audiences;
  AuthzRequest r;

  Request() {
    r.peer_principal = "spiffe://cluster.local/ns/front/sa/web";
    r.source_ip = "10.1.2.3";
    r.host = "Items.Shop:8080";
    r.method = "GET";
    r.path = "/api/items/42";
    r.destination_port = 8080;
    r.context = this;
    r.header = [](const void* c, std::string_view name) -> std::optional<std::string_view> {
      const auto& h = static_cast<const Request*>(c)->headers;
      const auto it = h.find(std::string(name));
      if (it == h.end()) return std::nullopt;
      return std::string_view(it->second);
    };
    r.claim = [](const void* c, std::string_view path, std::vector<std::string>& out) {
      const auto& m = static_cast<const Request*>(c)->claims;
      const auto it = m.find(std::string(path));
      if (it != m.end()) out = it->second;
    };
    r.audiences = &audiences;
  }
  bool allowedBy(const std::vector<tr::AuthzPolicy>& policies) const {
    return authorize(policies, r).allowed;
  }
};

TEST(Authorizer, NoPolicyAllowsEmptySpecDeniesAndAnEmptyRuleAllows) {
  Request q;
  EXPECT_TRUE(q.allowedBy({}));
  EXPECT_FALSE(q.allowedBy(compile(policy("deny-all", "  {}\n"))));
  const auto deny_all = compile(policy("deny-all", "  {}\n"));
  const auto d = authorize(deny_all, q.r);
  EXPECT_EQ(d.reason(), "denied: no ALLOW AuthorizationPolicy matched");
  EXPECT_TRUE(q.allowedBy(compile(policy("allow-all", "  rules: [{}]\n"))));
}

TEST(Authorizer, DenyWinsAndNamesThePolicy) {
  Request q;
  const auto policies =
      compile(policy("allow-all", "  rules: [{}]\n") +
              policy("no-delete",
                     "  action: DENY\n  rules:\n  - to: [{operation: {methods: [DELETE]}}]\n"));
  EXPECT_TRUE(q.allowedBy(policies));
  q.r.method = "DELETE";
  const auto d = authorize(policies, q.r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason(), "denied by AuthorizationPolicy shop/no-delete");
}

TEST(Authorizer, SourcesFromTheCertificate) {
  auto allowFrom = [](const std::string& source) {
    return compile(policy("p", "  rules:\n  - from: [{source: " + source + "}]\n"));
  };
  Request q;
  EXPECT_TRUE(q.allowedBy(allowFrom("{principals: [cluster.local/ns/front/sa/web]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{principals: [\"*/sa/web\"]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{principals: [\"*\"]}")));
  EXPECT_FALSE(q.allowedBy(allowFrom("{principals: [cluster.local/ns/front/sa/admin]}")));
  EXPECT_FALSE(q.allowedBy(allowFrom("{notPrincipals: [\"*\"]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{namespaces: [front]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{namespaces: [\"fr*\"]}")));
  EXPECT_FALSE(q.allowedBy(allowFrom("{notNamespaces: [front]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{serviceAccounts: [front/web]}")));
  EXPECT_FALSE(q.allowedBy(allowFrom("{serviceAccounts: [web]}")));  // shop/web
  EXPECT_TRUE(q.allowedBy(allowFrom("{trustDomains: [cluster.local]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{ipBlocks: [10.0.0.0/8]}")));
  EXPECT_FALSE(q.allowedBy(allowFrom("{ipBlocks: [10.1.2.4/32, 192.168.0.0/16]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{remoteIpBlocks: [10.1.2.3]}")));  // no XFF: the peer
  // A plaintext caller has no principal: "*" does not match it, notPrincipals "*" does.
  q.r.peer_principal = {};
  EXPECT_FALSE(q.allowedBy(allowFrom("{principals: [\"*\"]}")));
  EXPECT_FALSE(q.allowedBy(allowFrom("{namespaces: [front]}")));
  EXPECT_TRUE(q.allowedBy(allowFrom("{notPrincipals: [\"*\"]}")));
}

TEST(Authorizer, OperationsHostsPortsMethodsPathsAndTemplates) {
  auto allowTo = [](const std::string& op) {
    return compile(policy("p", "  rules:\n  - to: [{operation: " + op + "}]\n"));
  };
  Request q;
  EXPECT_TRUE(q.allowedBy(allowTo("{hosts: [items.shop]}")));  // case and port ignored
  EXPECT_TRUE(q.allowedBy(allowTo("{hosts: [\"*.SHOP\"]}")));
  EXPECT_FALSE(q.allowedBy(allowTo("{notHosts: [\"items*\"]}")));
  EXPECT_TRUE(q.allowedBy(allowTo("{ports: [\"8080\"]}")));
  EXPECT_FALSE(q.allowedBy(allowTo("{ports: [\"80\"]}")));
  EXPECT_TRUE(q.allowedBy(allowTo("{methods: [GET, HEAD]}")));
  EXPECT_FALSE(q.allowedBy(allowTo("{methods: [get]}")));
  EXPECT_TRUE(q.allowedBy(allowTo("{paths: [/api/items/42]}")));
  EXPECT_TRUE(q.allowedBy(allowTo("{paths: [\"/api/*\"]}")));
  EXPECT_TRUE(q.allowedBy(allowTo("{paths: [\"*/42\"]}")));
  EXPECT_TRUE(q.allowedBy(allowTo("{paths: [\"/api/{*}/42\"]}")));
  EXPECT_TRUE(q.allowedBy(allowTo("{paths: [\"/api/{**}\"]}")));
  EXPECT_FALSE(q.allowedBy(allowTo("{paths: [\"/api/{*}\"]}")));
  EXPECT_FALSE(q.allowedBy(allowTo("{paths: [\"/api/items/42/{**}\"]}")));
  EXPECT_FALSE(q.allowedBy(allowTo("{notPaths: [\"/api/*\"]}")));
  // All fields of one operation must hold; any operation may.
  EXPECT_FALSE(q.allowedBy(allowTo("{methods: [POST], paths: [\"/api/*\"]}")));
  EXPECT_TRUE(q.allowedBy(compile(policy("p",
                                         "  rules:\n  - to:\n    - operation: {methods: [POST]}\n  "
                                         "  - operation: {paths: [\"/api*\"]}\n"))));
}

TEST(Authorizer, WhenConditions) {
  auto allowWhen = [](const std::string& when) {
    return compile(policy("p", "  rules:\n  - when:\n    - " + when + "\n"));
  };
  Request q;
  q.headers["x-tenant"] = "blue";
  EXPECT_TRUE(q.allowedBy(allowWhen("{key: \"request.headers[X-Tenant]\", values: [blue]}")));
  EXPECT_FALSE(q.allowedBy(allowWhen("{key: \"request.headers[x-tenant]\", notValues: [\"b*\"]}")));
  EXPECT_TRUE(q.allowedBy(allowWhen("{key: \"request.headers[x-absent]\", notValues: [x]}")));
  EXPECT_TRUE(q.allowedBy(allowWhen("{key: source.ip, values: [10.1.0.0/16]}")));
  EXPECT_TRUE(q.allowedBy(allowWhen("{key: source.namespace, values: [front]}")));
  EXPECT_TRUE(q.allowedBy(allowWhen("{key: source.principal, values: [\"*/sa/web\"]}")));
  EXPECT_TRUE(q.allowedBy(allowWhen("{key: destination.port, values: [\"8080\"]}")));
  // JWT attributes need a verified token.
  const auto claims = allowWhen("{key: \"request.auth.claims[realm][role]\", values: [admin]}");
  q.claims[std::string("realm\0role", 10)] = {"user", "admin"};
  EXPECT_FALSE(q.allowedBy(claims));
  q.r.has_jwt = true;
  EXPECT_TRUE(q.allowedBy(claims));
  q.r.request_principal = "https://issuer.example.com/alice";
  EXPECT_TRUE(q.allowedBy(compile(policy("p",
                                         "  rules:\n  - from: [{source: {requestPrincipals: "
                                         "[\"https://issuer.example.com/*\"]}}]\n"))));
  q.audiences = {"shop"};
  EXPECT_TRUE(q.allowedBy(allowWhen("{key: request.auth.audiences, values: [shop]}")));
}

TEST(Authorizer, DryRunDecidesNothingAndCustomAndAuditAreReported) {
  Request q;
  const std::string dry = "  annotations:\n    istio.io/dry-run: \"true\"\n";
  // The decision points into the policies: they must outlive it.
  const auto shadow_deny =
      compile(policy("shadow-deny", "  action: DENY\n  rules: [{}]\n", "shop", dry));
  auto d = authorize(shadow_deny, q.r);
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(d.dry_run_matched.size(), 1u);
  EXPECT_EQ(d.dry_run_matched[0]->name, "shop/shadow-deny");
  // A dry-run ALLOW does not make ALLOW policies exist.
  const auto shadow_allow = compile(
      policy("shadow-allow", "  rules:\n  - to: [{operation: {methods: [POST]}}]\n", "shop", dry));
  EXPECT_TRUE(authorize(shadow_allow, q.r).allowed);
  const auto custom =
      compile(policy("ext", "  action: CUSTOM\n  provider: {name: opa}\n  rules: [{}]\n") +
              policy("audit", "  action: AUDIT\n  rules: [{}]\n"));
  d = authorize(custom, q.r);
  ASSERT_NE(d.custom, nullptr);
  EXPECT_EQ(d.custom->provider, "opa");
  EXPECT_TRUE(d.audit);
  EXPECT_TRUE(d.allowed);
}

TEST(Authorizer, HttpOnlyAttributesOnTcpFollowIstio) {
  Request q;
  q.r.method = q.r.path = q.r.host = {};
  const std::string yaml =
      policy("allow-get",
             "  rules:\n  - to: [{operation: {methods: [GET], ports: [\"8080\"]}}]\n") +
      policy("deny-delete",
             "  action: DENY\n  rules:\n  - to: [{operation: {methods: [DELETE], ports: "
             "[\"9090\"]}}]\n");
  const auto tcp = compile(yaml, "shop", {{"app", "web"}}, true);
  ASSERT_EQ(tcp.size(), 2u);
  // The ALLOW rule using methods is dropped: nothing is allowed on TCP.
  EXPECT_FALSE(q.allowedBy(tcp));
  // The DENY rule only loses methods: it denies every connection to 9090.
  q.r.destination_port = 9090;
  const auto d = authorize(tcp, q.r);
  EXPECT_FALSE(d.allowed);
  ASSERT_NE(d.policy, nullptr);
  EXPECT_EQ(d.policy->name, "shop/deny-delete");
}

TEST(Authorizer, ScopeNamespaceSelectorAndRootNamespace) {
  const std::string yaml =
      policy("mesh-wide", "  action: DENY\n  rules:\n  - to: [{operation: {paths: [/mesh]}}]\n",
             "istio-system") +
      policy("other-ns", "  action: DENY\n  rules: [{}]\n", "billing") +
      policy("for-api", "  selector: {matchLabels: {app: api}}\n  action: DENY\n  rules: [{}]\n");
  const auto web = compile(yaml, "shop", {{"app", "web"}});
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].name, "istio-system/mesh-wide");
  EXPECT_EQ(compile(yaml, "shop", {{"app", "api"}}).size(), 2u);
}

}  // namespace
}  // namespace halyard::proxy::authz

namespace halyard::proxy::authz {
namespace {

TEST(AuthzAddress, ParsesOnceAndComparesMappedAddressesAsIpv4) {
  EXPECT_EQ(parseAuthzAddress("10.1.2.3").size, 4);
  EXPECT_EQ(parseAuthzAddress("[::1]").size, 16);
  const AuthzAddress mapped = parseAuthzAddress("::ffff:10.1.2.3");
  ASSERT_EQ(mapped.size, 4);
  EXPECT_EQ(mapped.bytes[0], 10);
  EXPECT_EQ(mapped.bytes[3], 3);
  EXPECT_EQ(parseAuthzAddress("not-an-ip").size, 0);
  EXPECT_EQ(parseAuthzAddress("").size, 0);
}

TEST(AuthzAddress, RemoteIpIsTheClientXffNamedAndIpBlocksStayThePeer) {
  const auto remote = compile(policy("p",
                                     "  rules:\n  - from: [{source: {remoteIpBlocks: "
                                     "[203.0.113.0/24]}}]\n"));
  const auto peer = compile(policy("p",
                                   "  rules:\n  - from: [{source: {ipBlocks: "
                                   "[203.0.113.0/24]}}]\n"));
  Request q;
  q.r.remote_ip = "203.0.113.7";
  EXPECT_TRUE(q.allowedBy(remote));
  EXPECT_FALSE(q.allowedBy(peer));  // the peer is 10.1.2.3
  q.r.remote_ip = "198.51.100.1";   // the cache follows a changed view
  EXPECT_FALSE(q.allowedBy(remote));
  const auto when = compile(policy("p",
                                   "  rules:\n  - when: [{key: remote.ip, values: "
                                   "[198.51.100.0/24]}]\n"));
  EXPECT_TRUE(q.allowedBy(when));
}

}  // namespace
}  // namespace halyard::proxy::authz

namespace halyard::proxy::authz {
namespace {

TEST(Authorizer, DryRunPoliciesGiveShadowVerdictsOnly) {
  const std::string dry = "  annotations: {istio.io/dry-run: \"true\"}\n";
  const auto policies = compile(
      policy("shadow-deny", "  action: DENY\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
             "shop", dry) +
      policy("shadow-allow", "  rules:\n  - to: [{operation: {paths: [/nothing]}}]\n", "shop",
             dry));
  Request q;
  const AuthzDecision d = authorize(policies, q.r);
  EXPECT_TRUE(d.allowed);  // dry-run decides nothing, and is no ALLOW policy either
  ASSERT_TRUE(d.dry_run_deny_allowed && d.dry_run_allow_allowed);
  EXPECT_FALSE(*d.dry_run_deny_allowed);   // the DENY would have denied
  EXPECT_FALSE(*d.dry_run_allow_allowed);  // no dry-run ALLOW matched
  ASSERT_EQ(d.dry_run_matched.size(), 1u);
  EXPECT_EQ(d.dry_run_matched[0]->name, "shop/shadow-deny");
  EXPECT_FALSE(authorize({}, q.r).dry_run_deny_allowed);
}

}  // namespace
}  // namespace halyard::proxy::authz
