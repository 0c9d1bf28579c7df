#include <gtest/gtest.h>

#include "config/validate/analyzers/policy_analyzers.h"
#include "policy_test_util.h"

namespace halyard::config {
namespace {

using testing::runAnalyzer;
using Keys = std::vector<std::string>;

std::string sidecar(const std::string& name, const std::string& ns, const std::string& labels) {
  std::string y = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: " + name +
                  ", namespace: " + ns + "}\n";
  if (!labels.empty()) y += "spec:\n  workloadSelector:\n    labels: " + labels + "\n";
  return y + "---\n";
}

std::string pod(const std::string& name, const std::string& ns, const std::string& labels,
                const std::string& annotations = "{}") {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + ns +
         ", labels: " + labels + ", annotations: " + annotations + "}\n---\n";
}

TEST(SidecarSelectorAnalyzer, SelectorMustMatchAPodInItsNamespace) {
  auto a = makeSidecarSelectorAnalyzer();
  auto run = runAnalyzer(*a, pod("reviews", "default", "{app: reviews}") +
                                 sidecar("ok", "default", "{app: reviews}") +
                                 sidecar("elsewhere", "other", "{app: reviews}") +
                                 sidecar("bogus", "default", "{app: bogus, tier: x}"));
  ASSERT_EQ(run.keys(), (Keys{"IST0101 Sidecar default/bogus", "IST0101 Sidecar other/elsewhere"}));
  const Diagnostic& d = run.diagnostics[1];
  EXPECT_EQ(d.message, "Referenced selector not found: \"app=bogus,tier=x\"");
  EXPECT_EQ(d.field_path, "spec.workloadSelector.labels");
}

TEST(SidecarSelectorAnalyzer, OverlappingSelectorsConflictOncePerSidecar) {
  auto a = makeSidecarSelectorAnalyzer();
  auto run = runAnalyzer(*a, pod("r1", "default", "{app: ratings, tier: back}") +
                                 pod("r2", "default", "{app: ratings, tier: back}") +
                                 sidecar("by-app", "default", "{app: ratings}") +
                                 sidecar("by-tier", "default", "{tier: back}"));
  ASSERT_EQ(run.keys(),
            (Keys{"IST0110 Sidecar default/by-app", "IST0110 Sidecar default/by-tier"}));
  EXPECT_NE(run.diagnostics[0].message.find("by-app, by-tier"), std::string::npos);
  EXPECT_NE(run.diagnostics[0].message.find("r1"), std::string::npos);
}

TEST(SidecarSelectorAnalyzer, AtMostOneSelectorlessSidecarPerNamespace) {
  auto a = makeSidecarSelectorAnalyzer();
  auto run = runAnalyzer(*a, sidecar("one", "ns1", "") + sidecar("a", "ns2", "") +
                                 sidecar("b", "ns2", "") + sidecar("c", "", ""));
  // "c" has no namespace: it is in "default", alone there.
  EXPECT_EQ(run.keys(), (Keys{"IST0111 Sidecar ns2/a", "IST0111 Sidecar ns2/b"}));
}

TEST(SidecarSelectorAnalyzer, SidecarsDoNothingForAmbientWorkloads) {
  auto a = makeSidecarSelectorAnalyzer();
  const std::string namespaces = R"(apiVersion: v1
kind: Namespace
metadata: {name: amb, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: injected, labels: {istio.io/dataplane-mode: ambient, istio-injection: enabled}}
---
)";
  auto run = runAnalyzer(
      *a, namespaces + sidecar("ns-wide", "amb", "") + sidecar("ns-wide", "injected", "") +
              pod("p", "amb", "{app: p}") + sidecar("for-p", "amb", "{app: p}") +
              pod("q", "plain", "{app: q}", "{ambient.istio.io/redirection: enabled}") +
              sidecar("for-q", "plain", "{app: q}") + pod("s", "plain", "{app: s}") +
              sidecar("for-s", "plain", "{app: s}"));
  EXPECT_EQ(run.keys(), (Keys{"IST0167 Sidecar amb/for-p", "IST0167 Sidecar amb/ns-wide",
                              "IST0167 Sidecar plain/for-q"}));
}

}  // namespace
}  // namespace halyard::config
