// virtualservice.DestinationRuleAnalyzer: a route or mirror destination naming a subset needs a
// DestinationRule for that host, visible from the VirtualService's namespace, that defines the
// subset; otherwise the proxy has no cluster for it and requests fail (IST0101).
#include <unordered_map>

#include "config/model/host_name.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

struct RuleHost {
  const model::DestinationRule* rule;
  std::string host;  // resolved in the rule's namespace
};

// DestinationRules by resolved host; wildcard hosts also in a list, to match by suffix.
class RuleIndex {
 public:
  explicit RuleIndex(const model::ConfigSet& config) {
    for (const auto& dr : config.destination_rules) {
      RuleHost rh{&dr, model::resolveShortName(dr.spec.host.value_or(""),
                                               AnalysisContext::namespaceOf(dr.meta))};
      if (rh.host.starts_with('*')) wildcards_.push_back(rh);
      by_host_[rh.host].push_back(std::move(rh));
    }
  }

  bool subsetDefined(const std::string& host, const std::string& subset,
                     const std::string& vs_ns) const {
    if (auto it = by_host_.find(host); it != by_host_.end()) {
      for (const auto& rh : it->second) {
        if (defines(rh, subset, vs_ns)) return true;
      }
    }
    for (const auto& rh : wildcards_) {
      if (model::hostSubsetOf(host, rh.host) && defines(rh, subset, vs_ns)) return true;
    }
    return false;
  }

 private:
  static bool defines(const RuleHost& rh, const std::string& subset, const std::string& vs_ns) {
    const auto& dr = *rh.rule;
    const std::string& dr_ns = AnalysisContext::namespaceOf(dr.meta);
    // A DestinationRule with a workload selector stays in its own namespace.
    const bool visible = dr.spec.workload_selector
                             ? dr_ns == vs_ns
                             : model::isVisible(dr.spec.export_to, dr_ns, vs_ns);
    if (!visible) return false;
    for (const auto& s : dr.spec.subsets) {
      if (s.name.value_or("") == subset) return true;
    }
    return false;
  }

  std::unordered_map<std::string, std::vector<RuleHost>> by_host_;
  std::vector<RuleHost> wildcards_;
};

class DestinationRuleAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "virtualservice.DestinationRuleAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const RuleIndex rules(ctx.config());
    for (const auto& vs : ctx.config().virtual_services) {
      auto destinations = networking::routeDestinations(vs);
      auto mirrors = networking::mirrorDestinations(vs);
      destinations.insert(destinations.end(), mirrors.begin(), mirrors.end());
      const std::string& ns = AnalysisContext::namespaceOf(vs.meta);
      for (const auto& d : destinations) {
        if (!d.destination) continue;
        const std::string subset = d.destination->subset.value_or("");
        if (subset.empty()) continue;
        const std::string written = d.destination->host.value_or("");
        if (rules.subsetDefined(model::resolveShortName(written, ns), subset, ns)) continue;
        ctx.report(out, msg::kReferencedResourceNotFound, vs.meta, d.path + ".subset",
                   std::string("Referenced ") + (d.mirror ? "mirror" : "host") +
                       "+subset in DestinationRule not found: \"" + written + "+" + subset + "\"");
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeVirtualServiceDestinationRuleAnalyzer() {
  return std::make_unique<DestinationRuleAnalyzer>();
}

}  // namespace halyard::config
