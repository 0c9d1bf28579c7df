// sidecar.SelectorAnalyzer, per namespace: a Sidecar's workloadSelector must match a pod there
// (IST0101); no pod may be selected by two Sidecars (IST0110); at most one Sidecar may go
// without a selector (IST0111); and Sidecars have no effect on ambient workloads (IST0167).
#include <map>
#include <string>
#include <vector>

#include "config/model/host_name.h"
#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

std::string joinNames(const std::vector<const model::Sidecar*>& sidecars) {
  std::string text;
  for (const auto* s : sidecars) text += (text.empty() ? "" : ", ") + s->meta.name;
  return text;
}

class SidecarSelectorAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "sidecar.SelectorAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const model::ConfigSet& config = ctx.config();
    std::map<std::string, std::vector<const model::Sidecar*>> unselective;  // by namespace
    // Pods (by index) and the Sidecars that select each.
    std::map<size_t, std::vector<const model::Sidecar*>> by_pod;
    for (const auto& sc : config.sidecars) {
      const std::string& ns = AnalysisContext::namespaceOf(sc.meta);
      if (!sc.spec.workload_selector) {
        unselective[ns].push_back(&sc);
        const model::Namespace* ns_obj = policy::findNamespace(config, ns);
        if (ns_obj && policy::namespaceInAmbientMode(*ns_obj)) {
          ctx.report(out, msg::kIneffectivePolicy, sc.meta, "",
                     "Sidecar " + sc.meta.name + " has no effect: namespace " + ns +
                         " runs in ambient mode, where workloads have no sidecar proxy");
        }
        continue;
      }
      const auto& labels = sc.spec.workload_selector->labels;
      if (labels.empty()) continue;
      bool found = false, ambient = false;
      for (size_t i = 0; i < config.pods.size(); ++i) {
        const model::Pod& pod = config.pods[i];
        if (AnalysisContext::namespaceOf(pod.meta) != ns) continue;
        if (!model::selectorMatches(labels, pod.meta.labels)) continue;
        found = true;
        ambient |= policy::podInAmbientMode(config, pod);
        by_pod[i].push_back(&sc);
      }
      if (!found) {
        ctx.report(out, msg::kReferencedResourceNotFound, sc.meta, "spec.workloadSelector.labels",
                   "Referenced selector not found: \"" + policy::selectorText(labels) + "\"");
      }
      if (ambient) {
        ctx.report(out, msg::kIneffectivePolicy, sc.meta, "spec.workloadSelector",
                   "Sidecar " + sc.meta.name +
                       " has no effect: it selects ambient-mode pods, which have no sidecar proxy");
      }
    }

    for (const auto& [ns, list] : unselective) {
      if (list.size() < 2) continue;
      for (const auto* sc : list) {
        ctx.report(out, msg::kMultipleSidecarsWithoutWorkloadSelectors, sc->meta, "",
                   "Sidecars " + joinNames(list) + " in namespace " + ns +
                       " all have no workload selector; only one namespace-wide Sidecar takes "
                       "effect");
      }
    }

    // One message per Sidecar, naming the first pod it shares with another Sidecar.
    std::map<const model::Sidecar*, bool> reported;
    for (const auto& [pod_index, list] : by_pod) {
      if (list.size() < 2) continue;
      const model::Pod& pod = config.pods[pod_index];
      for (const auto* sc : list) {
        if (reported[sc]) continue;
        reported[sc] = true;
        ctx.report(out, msg::kConflictingSidecarWorkloadSelectors, sc->meta,
                   "spec.workloadSelector",
                   "Sidecars " + joinNames(list) + " in namespace " +
                       AnalysisContext::namespaceOf(pod.meta) + " all select pod " + pod.meta.name +
                       "; which one applies is undefined");
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeSidecarSelectorAnalyzer() {
  return std::make_unique<SidecarSelectorAnalyzer>();
}

}  // namespace halyard::config
