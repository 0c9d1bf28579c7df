#include <gtest/gtest.h>

#include "run_analyzer.h"

namespace halyard::config {
namespace {

TEST(DeprecationFieldAnalyzer, DelayPercentAndEgressProxy) {
  auto d = testing::runAnalyzer(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: old, namespace: foo}
spec:
  hosts: [productpage]
  http:
  - fault:
      delay: {percentage: {value: 5}, fixedDelay: 1s}
    route: [{destination: {host: productpage}}]
  - fault:
      delay: {percent: 50, fixedDelay: 1s}
    route: [{destination: {host: productpage}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s}
spec:
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy: {host: example, port: {number: 9080}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: fine}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
)",
                                "deprecation.FieldAnalyzer");
  EXPECT_EQ(testing::keys(d),
            (std::vector<std::string>{"IST0002 Sidecar s", "IST0002 VirtualService foo/old"}));
  for (const auto& m : d) {
    if (m.resource.kind == "VirtualService") {
      EXPECT_EQ(m.field_path, "spec.http[1].fault.delay.percent");
      EXPECT_EQ(m.pos.line, 12);
    }
  }
}

}  // namespace
}  // namespace halyard::config
