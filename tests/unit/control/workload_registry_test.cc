// Self-registered workloads: what a proxy may register, that a ServiceEntry selecting them
// routes to them like to any WorkloadEntry, and that a sidecar's workload is reached through its
// inbound port.
#include "control/registry/workload_registry.h"

#include <gtest/gtest.h>

#include "config/yaml/config_set_builder.h"
#include "config/yaml/loader.h"
#include "translate/translate.h"

namespace halyard::control {
namespace {

Workload reviews(std::string address = "10.1.2.3") {
  return Workload{"reviews-1",          "default",        "reviews", std::move(address),
                  {{"app", "reviews"}}, {{"http", 9080}}, "test"};
}

TEST(WorkloadRegistry, ChecksWhatAProxySends) {
  EXPECT_TRUE(WorkloadRegistry::check(reviews()));
  EXPECT_TRUE(WorkloadRegistry::check(reviews("fd00::7")));
  auto not_ip = WorkloadRegistry::check(reviews("reviews.local"));
  ASSERT_FALSE(not_ip);
  EXPECT_NE(not_ip.error().message.find("\"reviews.local\" is not an IP address"),
            std::string::npos);
  Workload unnamed = reviews();
  unnamed.name.clear();
  EXPECT_FALSE(WorkloadRegistry::check(unnamed));
  Workload bad_port = reviews();
  bad_port.ports = {{"http", 0}};
  EXPECT_FALSE(WorkloadRegistry::check(bad_port));
}

TEST(WorkloadRegistry, ReportsWhetherItChanged) {
  WorkloadRegistry registry;
  EXPECT_TRUE(registry.add(1, reviews()));
  EXPECT_FALSE(registry.add(1, reviews()));  // the same again: nothing to push
  EXPECT_TRUE(registry.add(1, reviews("10.1.2.4")));
  Workload sidecar = reviews("10.1.2.4");
  sidecar.inbound_port = 15006;
  EXPECT_TRUE(registry.add(1, sidecar));  // now behind a sidecar
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_TRUE(registry.remove(1));
  EXPECT_FALSE(registry.remove(1));
}

TEST(WorkloadRegistry, RegisteredWorkloadsAreEndpointsOfTheServicesSelectingThem) {
  config::LoadResult loaded;
  config::loadText(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: ["reviews.example.com"]
  gateways: ["gw"]
  http:
  - route:
    - destination: {host: reviews.internal, port: {number: 80}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: ["reviews.internal"]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
)",
                   "mesh.yaml", loaded);
  ASSERT_TRUE(loaded.diagnostics.empty());
  config::model::ConfigSet config = config::buildConfigSet(loaded.objects);
  WorkloadRegistry registry;
  registry.add(7, reviews());
  registry.appendTo(config);
  ASSERT_EQ(config.workload_entries.size(), 1u);
  EXPECT_EQ(config.workload_entries[0].meta.pos.fileName(), "registered by test");

  auto r = translate::buildSnapshot(config, translate::ProxyIdentity{}, 1);
  ASSERT_NE(r.snapshot, nullptr);
  auto it = r.snapshot->clusters.find("outbound|80||reviews.internal");
  ASSERT_NE(it, r.snapshot->clusters.end());
  ASSERT_EQ(it->second.endpoints.size(), 1u);
  EXPECT_EQ(it->second.endpoints[0].address, "10.1.2.3");
  EXPECT_EQ(it->second.endpoints[0].port, 9080);
  EXPECT_TRUE(config.workload_entries[0].meta.annotations.empty());  // no sidecar
}

TEST(WorkloadRegistry, ASidecarsWorkloadIsReachedThroughItsInboundPort) {
  config::LoadResult loaded;
  config::loadText(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: ["reviews.example.com"]
  gateways: ["gw"]
  http:
  - route:
    - destination: {host: reviews, port: {number: 80}}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 80, targetPort: 9080}]
)",
                   "mesh.yaml", loaded);
  ASSERT_TRUE(loaded.diagnostics.empty());
  config::model::ConfigSet config = config::buildConfigSet(loaded.objects);
  WorkloadRegistry registry;
  Workload w = reviews();
  w.inbound_port = 15123;
  registry.add(7, w);
  registry.appendTo(config);
  ASSERT_EQ(config.workload_entries.size(), 1u);
  const auto& entry = config.workload_entries[0];
  EXPECT_EQ(entry.meta.annotations.at(translate::kInboundPortAnnotation), "15123");
  EXPECT_EQ(entry.spec.ports.at("http"), 9080);  // the app's ports stay as registered

  auto r = translate::buildSnapshot(config, translate::ProxyIdentity{}, 1);
  ASSERT_NE(r.snapshot, nullptr);
  const auto& endpoints =
      r.snapshot->clusters.at("outbound|80||reviews.default.svc.cluster.local").endpoints;
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].address, "10.1.2.3");
  EXPECT_EQ(endpoints[0].port, 15123);
  // Behind a sidecar it takes Istio mutual TLS (as Istio labels injected pods), with the
  // identity its certificate carries; its app port is where PeerAuthentication is looked up.
  EXPECT_EQ(entry.spec.labels.at(translate::kTlsModeLabel), "istio");
  EXPECT_EQ(entry.meta.annotations.at(translate::kAppPortAnnotation), "9080");
  EXPECT_TRUE(endpoints[0].mesh_mtls);
  EXPECT_EQ(endpoints[0].service_account, "reviews");
}

TEST(WorkloadRegistry, ASidecarWithoutAServiceAccountIsDefault) {
  WorkloadRegistry registry;
  Workload w = reviews();
  w.service_account.clear();
  w.inbound_port = 15006;
  w.ports = {{"http", 8080}, {"metrics", 9090}};
  w.app_port = 9090;
  registry.add(1, w);
  Workload plain = reviews("10.1.2.9");  // no sidecar: no label, its service account as sent
  plain.name = "plain";
  plain.service_account.clear();
  registry.add(2, plain);
  config::model::ConfigSet config;
  registry.appendTo(config);
  ASSERT_EQ(config.workload_entries.size(), 2u);
  const auto& sidecar = config.workload_entries[0];
  EXPECT_EQ(sidecar.spec.service_account, "default");
  EXPECT_EQ(sidecar.meta.annotations.at(translate::kAppPortAnnotation), "9090");
  EXPECT_EQ(sidecar.meta.labels.at(translate::kTlsModeLabel), "istio");
  const auto& other = config.workload_entries[1];
  EXPECT_FALSE(other.spec.service_account.has_value());
  EXPECT_EQ(other.spec.labels.count(translate::kTlsModeLabel), 0u);
}

}  // namespace
}  // namespace halyard::control
