#include <gtest/gtest.h>

#include "config/validate/analyzers/policy_analyzers.h"
#include "policy_test_util.h"

namespace halyard::config {
namespace {

using testing::runAnalyzer;
using Keys = std::vector<std::string>;

TEST(ConditionAnalyzer, ReportsNegativeConditionsOfOwnedTypes) {
  auto a = makeConditionAnalyzer();
  auto run = runAnalyzer(*a, R"(apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
status:
  conditions:
  - {type: istio.io/WaypointBound, status: "False", reason: NoWaypoint, message: not ready}
  - {type: argocd.argoproj.io/Synced, status: "False", reason: OutOfSync}
  - {type: istio.io/WaypointBound, status: "True", reason: Bound}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: partial, namespace: default}
status:
  conditions:
  - {type: WaypointAccepted, status: "True", reason: PartiallyInvalid, message: bad ref}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: fine, namespace: default}
status:
  conditions:
  - {type: WaypointAccepted, status: "True", reason: Accepted}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route, namespace: default}
status:
  parents:
  - parentRef: {name: a}
    conditions: [{type: Accepted, status: "True"}]
  - parentRef: {name: b}
    conditions: [{type: ResolvedRefs, status: "False", reason: BackendNotFound}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: not-watched, namespace: default}
status:
  conditions: [{type: Reconciled, status: "False"}]
)");
  ASSERT_EQ(run.keys(), (Keys{"IST0171 AuthorizationPolicy default/partial",
                              "IST0171 HTTPRoute default/route", "IST0171 Service default/svc"}));
  const Diagnostic& svc = run.diagnostics[0];
  EXPECT_EQ(svc.field_path, "status.conditions[0]");
  EXPECT_EQ(svc.pos.line, 6);
  EXPECT_NE(svc.message.find("istio.io/WaypointBound"), std::string::npos);
  EXPECT_NE(svc.message.find("NoWaypoint"), std::string::npos);
  EXPECT_EQ(run.diagnostics[2].field_path, "status.parents[1].conditions[0]");
}

}  // namespace
}  // namespace halyard::config
