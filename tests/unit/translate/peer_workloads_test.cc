// The registry's workloads by namespace and service account, pushed with a sidecar's inbound
// listener for the source_* labels of TCP metrics (translate/peer_workloads.h), and the addresses
// a sidecar's TCP route matches destinationSubnets against when a CONNECT names a host.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

ProxyIdentity sidecar() {
  ProxyIdentity p;
  p.role = "sidecar";
  p.namespace_ = "default";
  p.labels = {{"app", "db"}};
  p.name = "db-1";
  p.service_account = "db";
  p.address = "10.1.0.5";
  p.app_port = 5432;
  return p;
}

const Listener* listenerNamed(const Snapshot& s, std::string_view name) {
  for (const auto& l : s.listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

constexpr std::string_view kWorkloads = R"(
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  selector: {app: db}
  ports: [{name: tcp-db, port: 5432}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: client-1, namespace: default}
spec:
  address: 10.0.0.1
  serviceAccount: client
  labels: {app: client, version: v2, service.istio.io/canonical-name: frontend}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: batch-1, namespace: default}
spec: {address: 10.0.0.2, serviceAccount: batch, labels: {app: batch}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: batch-2, namespace: default}
spec: {address: 10.0.0.3, serviceAccount: batch, labels: {app: batch}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: nobody, namespace: default}
spec: {address: 10.0.0.4}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: db-2, namespace: default}
spec:
  address: 10.0.0.9
  serviceAccount: db
  labels: {app: db, app.kubernetes.io/name: database, app.kubernetes.io/version: "2024.1"}
---
apiVersion: v1
kind: Pod
metadata: {name: web-abc, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web}]}
status: {podIP: 10.0.1.1}
)";

TEST(PeerWorkloadsTest, TheInboundListenerKnowsTheWorkloadsOneServiceAccountNames) {
  TranslateResult r = translateYaml(kWorkloads, sidecar());
  const Listener* in = listenerNamed(snapshotOf(r), "virtualInbound");
  ASSERT_NE(in, nullptr);
  ASSERT_TRUE(in->peer_workloads);
  const PeerWorkloads& table = *in->peer_workloads;
  EXPECT_TRUE(std::is_sorted(table.begin(), table.end(), [](const auto& a, const auto& b) {
    return std::tie(a.namespace_, a.service_account) < std::tie(b.namespace_, b.service_account);
  }));
  const PeerWorkload* client = findPeerWorkload(table, "default", "client");
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->workload, "client-1");
  EXPECT_EQ(client->app, "client");
  EXPECT_EQ(client->version, "v2");
  EXPECT_EQ(client->revision, "v2");  // the version label, as Istio's canonical revision falls back
  EXPECT_EQ(client->canonical_service, "frontend");
  // Two workloads share "batch": which one called is not known, so neither is named.
  EXPECT_EQ(findPeerWorkload(table, "default", "batch"), nullptr);
  // A WorkloadEntry without a service account has no certificate identity to look up.
  EXPECT_EQ(findPeerWorkload(table, "default", ""), nullptr);
  // A Pod without serviceAccountName runs as "default"; no version label is "unknown".
  const PeerWorkload* web = findPeerWorkload(table, "shop", "default");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->workload, "web-abc");
  EXPECT_EQ(web->app, "web");
  EXPECT_EQ(web->version, "unknown");
  EXPECT_EQ(web->revision, "latest");
  EXPECT_EQ(web->canonical_service, "web");
  EXPECT_EQ(findPeerWorkload(table, "other", "client"), nullptr);
}

TEST(CanonicalRevisionTest, IstiosLabelOrderThenLatest) {
  using L = std::map<std::string, std::string>;
  EXPECT_EQ(canonicalRevision(L{}), "latest");
  EXPECT_EQ(canonicalRevision(L{{"version", "v1"}}), "v1");
  EXPECT_EQ(canonicalRevision(L{{"version", "v1"}, {"app.kubernetes.io/version", "1.2"}}), "1.2");
  EXPECT_EQ(canonicalRevision(L{{"version", "v1"},
                                {"app.kubernetes.io/version", "1.2"},
                                {"service.istio.io/canonical-revision", "canary"}}),
            "canary");
  EXPECT_EQ(canonicalRevision(L{{"version", ""}}), "latest");  // empty: absent
}

TEST(CanonicalServiceTest, IstiosLabelOrderThenTheWorkloadName) {
  using L = std::map<std::string, std::string>;
  EXPECT_EQ(canonicalService(L{}, "web-1"), "web-1");
  EXPECT_EQ(canonicalService(L{{"app", "web"}}, "web-1"), "web");
  EXPECT_EQ(canonicalService(L{{"app", "web"}, {"app.kubernetes.io/name", "shop"}}, "web-1"),
            "shop");
  EXPECT_EQ(canonicalService(L{{"app", "web"},
                               {"app.kubernetes.io/name", "shop"},
                               {"service.istio.io/canonical-name", "storefront"}},
                             "web-1"),
            "storefront");
  EXPECT_EQ(canonicalService(L{{"service.istio.io/canonical-name", ""}, {"app", "web"}}, "web-1"),
            "web");  // empty: absent
}

TEST(WorkloadNamesTest, TheRegistrysEndpointsAreNamedOnceWhenTheClusterIsBuilt) {
  TranslateResult r = translateYaml(kWorkloads, sidecar());
  const Snapshot& s = snapshotOf(r);
  bool found = false;
  for (const auto& [name, cluster] : s.clusters) {
    for (const Endpoint& e : cluster.endpoints) {
      if (e.workload != "db-2") continue;
      found = true;
      EXPECT_EQ(e.names.app, "db");
      EXPECT_EQ(e.names.version, "unknown");
      EXPECT_EQ(e.names.canonical_service, "database");
      EXPECT_EQ(e.names.canonical_revision, "2024.1");
    }
  }
  EXPECT_TRUE(found);
}

TEST(PeerWorkloadsTest, OnlyAnInboundListenerThatProxiesTcpCarriesTheTable) {
  TranslateResult r = translateYaml(kWorkloads, sidecar());
  for (const auto& l : snapshotOf(r).listeners) {
    EXPECT_EQ(static_cast<bool>(l.peer_workloads), l.kind == ListenerKind::kInbound) << l.name;
  }
  // An HTTP app port: requests carry the caller's metadata themselves; the table is not sent.
  ProxyIdentity web = sidecar();
  web.labels = {{"app", "web"}};
  web.app_port = 8080;
  TranslateResult http = translateYaml(std::string(kWorkloads) + R"(---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
)",
                                       web);
  const Listener* in = listenerNamed(snapshotOf(http), "virtualInbound");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->protocol, "HTTP");
  EXPECT_TRUE(in->tcp_routes.empty());
  EXPECT_FALSE(in->peer_workloads);
}

constexpr std::string_view kSubnets = R"(
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: db}
  ports: [{name: tcp-db, port: 5432}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: [db]
  tcp:
  - match: [{port: 5432, destinationSubnets: [10.96.0.0/16]}]
    route: [{destination: {host: db}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy, namespace: default}
spec:
  hosts: [legacy.example.com]
  addresses: [192.168.7.7, 192.168.8.0/24]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints: [{address: 10.2.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: default}
spec:
  hosts: [vm.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints: [{address: 10.3.0.1}, {address: 10.3.0.2}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external, namespace: default}
spec:
  hosts: [legacy.example.com, vm.example.com]
  tcp:
  - match: [{destinationSubnets: [192.168.7.0/24, 10.3.0.0/16]}]
    route: [{destination: {host: legacy.example.com}}]
)";

TEST(PeerWorkloadsTest, TcpRoutesWithDestinationSubnetsKnowTheAddressesTheirHostStandsFor) {
  ProxyIdentity proxy = sidecar();
  proxy.app_port = 0;
  TranslateResult r = translateYaml(kSubnets, proxy);
  const Listener* tcp = listenerNamed(snapshotOf(r), "0.0.0.0_5432_tcp");
  ASSERT_NE(tcp, nullptr);
  std::map<std::string, std::vector<std::string>> by_origin_and_host;
  for (const auto& route : tcp->tcp_routes) {
    ASSERT_FALSE(route.hosts.empty());
    by_origin_and_host[route.origin + " " + route.hosts.front()] = route.host_addresses;
  }
  // A Service: its clusterIP, what the app's connection would be addressed to.
  EXPECT_EQ(by_origin_and_host["default/db tcp[0] db.default.svc.cluster.local"],
            std::vector<std::string>{"10.96.0.10"});
  // A ServiceEntry with addresses: those that are one address (a CIDR is not).
  EXPECT_EQ(by_origin_and_host["default/external tcp[0] legacy.example.com"],
            std::vector<std::string>{"192.168.7.7"});
  // Without a VIP: the endpoints, which the app dials itself.
  EXPECT_EQ(by_origin_and_host["default/external tcp[0] vm.example.com"],
            (std::vector<std::string>{"10.3.0.1", "10.3.0.2"}));
}

}  // namespace
}  // namespace halyard::translate
