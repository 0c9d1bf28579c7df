// authz.AuthorizationPoliciesAnalyzer: a policy must apply to some workload in the mesh
// (IST0127), and the namespaces its rules name in source.namespaces / notNamespaces must exist
// (IST0101).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/model/host_name.h"
#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

// AuthorizationPolicy namespace patterns: "*" alone, a "*" prefix or suffix, or an exact name.
bool namespacePatternMatches(std::string_view pattern, std::string_view ns) {
  if (pattern == "*") return true;
  if (pattern.starts_with('*')) return ns.ends_with(pattern.substr(1));
  if (pattern.ends_with('*')) return ns.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == ns;
}

class AuthorizationPoliciesAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "authz.AuthorizationPoliciesAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const model::ConfigSet& config = ctx.config();
    if (config.authorization_policies.empty()) return;
    std::vector<const model::Pod*> mesh_pods;
    for (const auto& pod : config.pods) {
      if (policy::podInMesh(ctx, pod)) mesh_pods.push_back(&pod);
    }
    // The namespaces that exist: declared ones, and those objects were written into (local
    // files rarely declare every namespace they use).
    std::set<std::string> namespaces;
    for (const auto& ns : config.namespaces) namespaces.insert(ns.meta.name);
    for (const Object& o : ctx.objects()) {
      if (!o.namespace_.empty()) namespaces.insert(o.namespace_);
    }
    for (const auto& ap : config.authorization_policies) {
      checkWorkloads(ctx, ap, mesh_pods, out);
      checkNamespaces(ctx, ap, namespaces, out);
    }
  }

 private:
  static void checkWorkloads(const AnalysisContext& ctx, const model::AuthorizationPolicy& ap,
                             const std::vector<const model::Pod*>& mesh_pods, Diagnostics& out) {
    // Policies bound with targetRef(s) apply to gateways, waypoints or services, not to pods
    // picked by labels.
    if (ap.spec.target_ref || !ap.spec.target_refs.empty()) return;
    const std::string& ns = AnalysisContext::namespaceOf(ap.meta);
    const bool mesh_wide = ns == ctx.mesh().root_namespace;
    // A selector-less policy in the root namespace applies to every workload of the mesh.
    if (mesh_wide && !ap.spec.selector) return;
    static const std::map<std::string, std::string> kEverything;
    const auto& selector = ap.spec.selector ? ap.spec.selector->match_labels : kEverything;
    for (const model::Pod* pod : mesh_pods) {
      if (!mesh_wide && AnalysisContext::namespaceOf(pod->meta) != ns) continue;
      if (model::selectorMatches(selector, pod->meta.labels)) return;
    }
    if (ap.spec.selector) {
      ctx.report(out, msg::kNoMatchingWorkloadsFound, ap.meta, "spec.selector.matchLabels",
                 "No mesh workloads " + (mesh_wide ? "anywhere" : "in namespace " + ns) +
                     " match this policy's selector: " + policy::selectorText(selector));
    } else {
      ctx.report(out, msg::kNoMatchingWorkloadsFound, ap.meta, "",
                 "No mesh workloads in namespace " + ns + " for this namespace-wide policy");
    }
  }

  static void checkNamespaces(const AnalysisContext& ctx, const model::AuthorizationPolicy& ap,
                              const std::set<std::string>& namespaces, Diagnostics& out) {
    for (size_t i = 0; i < ap.spec.rules.size(); ++i) {
      const model::Rule& rule = ap.spec.rules[i];
      for (size_t j = 0; j < rule.from.size(); ++j) {
        if (!rule.from[j].source) continue;
        const model::Source& source = *rule.from[j].source;
        const std::string base =
            "spec.rules[" + std::to_string(i) + "].from[" + std::to_string(j) + "].source.";
        for (const auto& [field, list] : {std::pair{"namespaces", &source.namespaces},
                                          std::pair{"notNamespaces", &source.not_namespaces}}) {
          for (size_t k = 0; k < list->size(); ++k) {
            const std::string& pattern = (*list)[k];
            bool found = false;
            for (const auto& ns : namespaces) {
              if ((found = namespacePatternMatches(pattern, ns))) break;
            }
            if (found || pattern == "*") continue;
            ctx.report(out, msg::kReferencedResourceNotFound, ap.meta,
                       base + field + "[" + std::to_string(k) + "]",
                       "Referenced namespace not found: \"" + pattern + "\"");
          }
        }
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeAuthorizationPoliciesAnalyzer() {
  return std::make_unique<AuthorizationPoliciesAnalyzer>();
}

}  // namespace halyard::config
