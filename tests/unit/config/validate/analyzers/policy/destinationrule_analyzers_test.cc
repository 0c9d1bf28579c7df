#include <gtest/gtest.h>

#include "config/validate/analyze.h"
#include "config/validate/analyzers/policy_analyzers.h"
#include "config/yaml/loader.h"
#include "policy_test_util.h"

namespace halyard::config {
namespace {

using testing::runAnalyzer;
using Keys = std::vector<std::string>;

TEST(CaCertificateAnalyzer, SimpleWithoutCaAtDestinationLevel) {
  auto a = makeCaCertificateAnalyzer();
  auto run = runAnalyzer(*a, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: prod}
spec:
  host: db.prod.svc.cluster.local
  trafficPolicy:
    tls:
      mode: SIMPLE
)");
  ASSERT_EQ(run.keys(), (Keys{"IST0128 DestinationRule prod/db"}));
  const Diagnostic& d = run.diagnostics[0];
  EXPECT_EQ(d.field_path, "spec.trafficPolicy.tls.mode");
  EXPECT_EQ(d.pos.line, 8);
  EXPECT_NE(d.message.find("SIMPLE"), std::string::npos);
  EXPECT_NE(d.message.find("db.prod.svc.cluster.local"), std::string::npos);
}

TEST(CaCertificateAnalyzer, PortLevelNamesThePort) {
  auto a = makeCaCertificateAnalyzer();
  auto run = runAnalyzer(*a, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy:
    tls: {mode: MUTUAL, caCertificates: /etc/ca.pem}
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: DISABLE}
    - port: {number: 443}
      tls: {mode: MUTUAL}
)");
  ASSERT_EQ(run.keys(), (Keys{"IST0129 DestinationRule db"}));
  EXPECT_EQ(run.diagnostics[0].field_path, "spec.trafficPolicy.portLevelSettings[1].tls.mode");
  EXPECT_NE(run.diagnostics[0].message.find("port 443"), std::string::npos);
}

TEST(CaCertificateAnalyzer, CredentialNameCountsOnlyWithWorkloadSelector) {
  auto a = makeCaCertificateAnalyzer();
  const std::string base = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: db-cred}
)";
  EXPECT_EQ(runAnalyzer(*a, base).keys(), (Keys{"IST0128 DestinationRule db"}));
  EXPECT_TRUE(
      runAnalyzer(*a, base + "  workloadSelector: {matchLabels: {app: db}}\n").keys().empty());
}

TEST(CaCertificateAnalyzer, IstioMutualAndDisableNeedNoCa) {
  auto a = makeCaCertificateAnalyzer();
  auto run = runAnalyzer(*a, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: DISABLE}
)");
  EXPECT_TRUE(run.keys().empty());
}

constexpr const char* kHttpbin = R"(apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: default}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000}]
---
apiVersion: v1
kind: Pod
metadata:
  name: httpbin-1
  namespace: default
  labels: {app: httpbin, version: v1}
spec:
  nodeName: node-a
  containers: [{name: httpbin, image: httpbin}]
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {topology.kubernetes.io/region: eu-west-1, topology.kubernetes.io/zone: ""}
---
)";

TEST(PodNotSelectedAnalyzer, UnknownHost) {
  auto a = makePodNotSelectedAnalyzer();
  auto run = runAnalyzer(*a, std::string(kHttpbin) + R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: nothing, namespace: default}
spec:
  host: nothing
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: short-name, namespace: default}
spec:
  host: httpbin
)");
  ASSERT_EQ(run.keys(), (Keys{"IST0174 DestinationRule default/nothing"}));
  EXPECT_EQ(run.diagnostics[0].field_path, "spec.host");
  EXPECT_NE(run.diagnostics[0].message.find("nothing"), std::string::npos);
}

TEST(PodNotSelectedAnalyzer, ServiceEntryAndWildcardHostsAreKnown) {
  auto a = makePodNotSelectedAnalyzer();
  auto run = runAnalyzer(*a, std::string(kHttpbin) + R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: ["*.example.com"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext, namespace: default}
spec:
  host: api.example.com
  subsets: [{name: v9, labels: {version: v9}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all-local, namespace: default}
spec:
  host: "*.default.svc.cluster.local"
)");
  EXPECT_TRUE(run.keys().empty());
}

TEST(PodNotSelectedAnalyzer, SubsetsMatchPodAndNodeTopologyLabels) {
  auto a = makePodNotSelectedAnalyzer();
  auto run = runAnalyzer(*a, std::string(kHttpbin) + R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: default}
spec:
  host: httpbin.default.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: eu, labels: {topology.kubernetes.io/region: eu-west-1, version: v1}}
  - {name: on-node, labels: {kubernetes.io/hostname: node-a}}
  - {name: all}
  - {name: v2, labels: {version: v2}}
  - {name: empty-zone, labels: {topology.kubernetes.io/zone: ""}}
)");
  ASSERT_EQ(run.keys(), (Keys{"IST0173 DestinationRule default/httpbin",
                              "IST0173 DestinationRule default/httpbin"}));
  EXPECT_EQ(run.diagnostics[0].field_path, "spec.subsets[4]");
  EXPECT_NE(run.diagnostics[0].message.find("v2"), std::string::npos);
  EXPECT_EQ(run.diagnostics[1].field_path, "spec.subsets[5]");
}

TEST(PodNotSelectedAnalyzer, ServiceWithoutPodsFailsEverySubset) {
  auto a = makePodNotSelectedAnalyzer();
  auto run = runAnalyzer(*a, R"(apiVersion: v1
kind: Service
metadata: {name: httpbin}
spec:
  selector: {app: httpbin}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  subsets: [{name: v1, labels: {version: v1}}]
)");
  EXPECT_EQ(run.keys(), (Keys{"IST0173 DestinationRule httpbin"}));
}

// The classic canary of a `halyard up` directory: the Workloads are the pods, so the version
// subsets select them; a subset matching no Workload is still reported.
TEST(PodNotSelectedAnalyzer, HalyardWorkloadsAreThePodsOfTheDirectory) {
  constexpr std::string_view kCanary = R"(apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: reviews-v1, labels: {app: reviews, version: v1}}
spec: {service: reviews, port: 9181, command: [app]}
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: reviews-v2, labels: {app: reviews, version: v2}}
spec: {service: reviews, port: 9182, command: [app]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
)";
  LoadResult loaded;
  loadText(kCanary, "canary.yaml", loaded);
  ASSERT_TRUE(loaded.diagnostics.empty());
  // Every analyzer, as `halyard analyze DIR` and `halyard up DIR` run them.
  const Diagnostics diags = analyzeObjects(std::move(loaded.objects), {});
  ASSERT_EQ(diags.size(), 1u) << diags[0].code << " " << diags[0].message;
  EXPECT_EQ(diags[0].code, "IST0173");
  EXPECT_EQ(diags[0].field_path, "spec.subsets[2]");
}

}  // namespace
}  // namespace halyard::config
