#include <gtest/gtest.h>

#include "run_analyzer.h"

namespace halyard::config {
namespace {

using testing::keys;
using testing::runAnalyzer;
using Keys = std::vector<std::string>;

std::string vs(const std::string& name, const std::string& ns, const std::string& spec) {
  return "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

constexpr std::string_view kMeshHosts = "virtualservice.ConflictingMeshGatewayHostsAnalyzer";

TEST(ConflictingMeshGatewayHostsAnalyzer, ShortAndLongNamesCollideOncePerVirtualService) {
  auto d = runAnalyzer(vs("a", "foo", "  hosts: [reviews]\n") +
                           vs("b", "bar", "  hosts: [reviews.foo.svc.cluster.local, x.com]\n") +
                           vs("c", "baz", "  hosts: [x.com]\n  gateways: [mesh, gw]\n") +
                           vs("ingress", "foo", "  hosts: [reviews]\n  gateways: [gw]\n"),
                       std::string(kMeshHosts));
  EXPECT_EQ(keys(d), (Keys{"IST0109 VirtualService bar/b", "IST0109 VirtualService baz/c",
                           "IST0109 VirtualService foo/a"}));
}

TEST(ConflictingMeshGatewayHostsAnalyzer, ExportToScopes) {
  auto d = runAnalyzer(
      // Disjoint namespaces: no conflict.
      vs("p", "foo", "  hosts: ['*.b']\n  exportTo: [foo]\n") +
          vs("p", "bar", "  hosts: ['*.b']\n  exportTo: ['.']\n") +
          // Exported everywhere against a namespace-scoped wildcard it matches.
          vs("q", "foo", "  hosts: ['*.q.d']\n  exportTo: ['.']\n") +
          vs("q", "bar", "  hosts: ['*.d']\n  exportTo: ['*']\n"),
      std::string(kMeshHosts));
  EXPECT_EQ(keys(d), (Keys{"IST0109 VirtualService bar/q", "IST0109 VirtualService foo/q"}));
}

constexpr std::string_view kDestHost = "virtualservice.DestinationHostAnalyzer";

const char* kRegistry = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  ports: [{port: 9080, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: two, namespace: default}
spec:
  ports: [{port: 80, name: http}, {port: 443, name: https}]
---
apiVersion: v1
kind: Service
metadata:
  name: private
  namespace: default
  annotations: {networking.istio.io/exportTo: "., team"}
spec:
  ports: [{port: 80, name: http}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wild, namespace: default}
spec:
  hosts: ["*.eu.example.com"]
  ports: [{number: 443, name: tls, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: local-only, namespace: other}
spec:
  hosts: [only.other.com]
  exportTo: ["."]
)";

std::string route(const std::string& destination) {
  return "  http:\n  - route:\n    - destination: " + destination + "\n";
}

TEST(DestinationHostAnalyzer, HostsPortsAndVisibility) {
  auto d = runAnalyzer(
      std::string(kRegistry) + vs("ok", "default", route("{host: reviews}")) +
          vs("fqdn", "istio-system", route("{host: reviews.default.svc.cluster.local}")) +
          vs("wild", "default", route("{host: a.eu.example.com}")) +
          vs("bogus", "default", route("{host: reviews-bogus}")) +
          vs("no-port", "default", route("{host: two}")) +
          vs("port-ok", "default", route("{host: two, port: {number: 443}}")) +
          vs("bad-port", "default", route("{host: reviews, port: {number: 1}}")) +
          vs("private-ok", "team", route("{host: private.default.svc.cluster.local}")) +
          vs("private-no", "elsewhere", route("{host: private.default.svc.cluster.local}")) +
          vs("se-hidden", "default", route("{host: only.other.com}")) +
          vs("export-bogus", "default", "  exportTo: [bogus]\n" + route("{host: private}")) +
          vs("tcp", "default", "  tcp:\n  - route:\n    - destination: {host: tcp-missing}\n") +
          vs("mirror", "default",
             "  http:\n  - route:\n    - destination: {host: reviews}\n"
             "    mirror: {host: mirror-missing}\n"
             "    mirrors:\n    - destination: {host: two}\n"),
      std::string(kDestHost));
  EXPECT_EQ(keys(d), (Keys{
                         "IST0101 VirtualService default/bad-port",
                         "IST0101 VirtualService default/bogus",
                         "IST0101 VirtualService default/export-bogus",
                         "IST0101 VirtualService default/mirror",
                         "IST0101 VirtualService default/se-hidden",
                         "IST0101 VirtualService default/tcp",
                         "IST0101 VirtualService elsewhere/private-no",
                         "IST0112 VirtualService default/mirror",
                         "IST0112 VirtualService default/no-port",
                     }));
  for (const auto& m : d) {
    if (m.resource.name == "bogus") {
      EXPECT_EQ(m.message, "Referenced host not found: \"reviews-bogus\"");
      EXPECT_EQ(m.field_path, "spec.http[0].route[0].destination.host");
    }
    if (m.resource.name == "bad-port") {
      EXPECT_EQ(m.field_path, "spec.http[0].route[0].destination.port.number");
    }
  }
}

TEST(DestinationHostAnalyzer, RouteWithoutDestination) {
  auto d = runAnalyzer(vs("empty", "default", "  http:\n  - route:\n    - {}\n"),
                       std::string(kDestHost));
  ASSERT_EQ(keys(d), Keys{"IST0101 VirtualService default/empty"});
  EXPECT_EQ(d[0].message, "Referenced host not found: \"\" (the route entry has no destination)");
}

TEST(DestinationHostAnalyzer, IngressRouteWithoutSubsetBypassesMeshSubsets) {
  auto d = runAnalyzer(
      std::string(kRegistry) +
          vs("mesh", "default", "  hosts: [reviews]\n" + route("{host: reviews, subset: v1}")) +
          vs("edge", "default",
             "  hosts: [a.com]\n  gateways: [istio-system/gw]\n" + route("{host: reviews}")) +
          vs("edge-subset", "default",
             "  hosts: [b.com]\n  gateways: [istio-system/gw]\n" +
                 route("{host: reviews, subset: v1}")),
      std::string(kDestHost));
  EXPECT_EQ(keys(d), Keys{"IST0140 VirtualService default/edge"});
}

constexpr std::string_view kDestRule = "virtualservice.DestinationRuleAnalyzer";

TEST(VirtualServiceDestinationRuleAnalyzer, SubsetsMustBeDefined) {
  auto d = runAnalyzer(
      std::string(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: private, namespace: default}
spec:
  host: secret.default.svc.cluster.local
  exportTo: ["."]
  subsets: [{name: v1}]
)") + vs("ok", "default", route("{host: reviews, subset: v1}")) +
          vs("fqdn", "other", route("{host: reviews.default.svc.cluster.local, subset: v1}")) +
          vs("no-subset", "default", route("{host: reviews}")) +
          vs("bogus", "default", route("{host: reviews, subset: bogus}")) +
          vs("hidden", "other", route("{host: secret.default.svc.cluster.local, subset: v1}")) +
          vs("mirror", "default",
             "  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n"
             "    mirror: {host: reviews, subset: v2}\n"),
      std::string(kDestRule));
  EXPECT_EQ(keys(d),
            (Keys{"IST0101 VirtualService default/bogus", "IST0101 VirtualService default/mirror",
                  "IST0101 VirtualService other/hidden"}));
  for (const auto& m : d) {
    if (m.resource.name == "mirror") {
      EXPECT_EQ(m.field_path, "spec.http[0].mirror.subset");
    }
  }
}

constexpr std::string_view kGateway = "virtualservice.GatewayAnalyzer";

const char* kGateways = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com", "./own.com", "team/team.com"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: kgw, namespace: default}
spec:
  gatewayClassName: istio
  listeners: [{name: http, hostname: k.example.org, port: 80, protocol: HTTP}]
)";

TEST(VirtualServiceGatewayAnalyzer, ReferencesAndHosts) {
  auto d = runAnalyzer(
      std::string(kGateways) +
          vs("ok", "default", "  hosts: [a.example.com]\n  gateways: [istio-system/gw, mesh]\n") +
          vs("legacy", "default",
             "  hosts: [a.example.com]\n  gateways: [gw.istio-system.svc.cluster.local]\n") +
          vs("own-ns", "istio-system", "  hosts: [own.com]\n  gateways: [gw]\n") +
          vs("not-own-ns", "default", "  hosts: [own.com]\n  gateways: [istio-system/gw]\n") +
          vs("team", "team", "  hosts: [team.com]\n  gateways: [istio-system/gw]\n") +
          vs("missing", "default", "  hosts: [a.example.com]\n  gateways: [api-gatewy]\n") +
          vs("k8s-ok", "default", "  hosts: [k.example.org]\n  gateways: [kgw]\n") +
          vs("k8s-host", "default", "  hosts: [z.example.org]\n  gateways: [default/kgw]\n") +
          vs("internal", "default",
             "  hosts: [a.example.com]\n"
             "  gateways: [\"istio-system/gw~istio-autogenerated-k8s-gateway~http\"]\n"),
      std::string(kGateway));
  EXPECT_EQ(
      keys(d),
      (Keys{"IST0101 VirtualService default/missing", "IST0132 VirtualService default/k8s-host",
            "IST0132 VirtualService default/missing", "IST0132 VirtualService default/not-own-ns",
            "IST0165 VirtualService default/internal"}));
  for (const auto& m : d) {
    if (m.code == "IST0101") {
      EXPECT_EQ(m.message, "Referenced gateway not found: \"api-gatewy\"");
      EXPECT_EQ(m.field_path, "spec.gateways[0]");
    }
  }
}

constexpr std::string_view kJwt = "virtualservice.JWTClaimRouteAnalyzer";

const char* kClaimRoute = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: claims, namespace: default}
spec:
  hosts: [foo.com]
  gateways: [istio-system/gw]
  http:
  - match:
    - headers:
        "@request.auth.claims.group": {exact: admin}
    route:
    - destination: {host: foo}
)";

TEST(JwtClaimRouteAnalyzer, NeedsRequestAuthenticationOnTheGatewayPod) {
  auto d = runAnalyzer(kClaimRoute, std::string(kJwt));
  ASSERT_EQ(keys(d), Keys{"IST0149 VirtualService default/claims"});
  EXPECT_EQ(d[0].field_path, "spec.http[0].match[0].headers[@request.auth.claims.group]");
  EXPECT_EQ(d[0].pos.line, 20);
}

TEST(JwtClaimRouteAnalyzer, RequestAuthenticationInRootNamespaceSatisfiesIt) {
  auto d = runAnalyzer(std::string(kClaimRoute) + R"(
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules: [{issuer: "https://issuer.example.com"}]
)",
                       std::string(kJwt));
  EXPECT_TRUE(d.empty());
}

}  // namespace
}  // namespace halyard::config
