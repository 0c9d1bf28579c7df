// destinationrule.PodNotSelectedAnalyzer: a DestinationRule for a host the registry does not
// know (IST0174), and a subset whose labels match none of the service's pods (IST0173). Pod
// labels are taken as the service registry sees endpoints: with the topology labels of the node
// the pod runs on (region, zone, subzone, hostname) added, as Istio does for locality subsets.
#include <map>
#include <string>
#include <vector>

#include "config/model/host_name.h"
#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

using Labels = std::map<std::string, std::string>;

constexpr std::string_view kHostnameLabel = "kubernetes.io/hostname";
// Node labels Istio copies onto endpoints; empty values are not copied.
constexpr std::string_view kNodeTopologyLabels[] = {
    "topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"};

// A pod's labels as an endpoint carries them.
Labels endpointLabels(const AnalysisContext& ctx, const model::Pod& pod,
                      const std::map<std::string, const Object*>& nodes) {
  Labels labels = pod.meta.labels;
  const Object* src = ctx.sourceOf(pod.meta);
  const Node* spec = src ? src->spec() : nullptr;
  const Node* node_name = spec ? spec->get("nodeName") : nullptr;
  if (!node_name || node_name->str().empty()) return labels;
  const std::string name(node_name->str());
  labels[std::string(kHostnameLabel)] = name;
  auto it = nodes.find(name);
  if (it == nodes.end()) return labels;
  for (std::string_view key : kNodeTopologyLabels) {
    std::string_view value = policy::valueOr(it->second->labels, key);
    if (!value.empty()) labels[std::string(key)] = std::string(value);
  }
  return labels;
}

class PodNotSelectedAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "destinationrule.PodNotSelectedAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const model::ConfigSet& config = ctx.config();
    std::map<std::string, const model::Service*> services;  // by FQDN
    for (const auto& svc : config.services) {
      services[svc.meta.name + "." + AnalysisContext::namespaceOf(svc.meta) + ".svc." +
               std::string(model::kDefaultClusterDomain)] = &svc;
    }
    std::vector<std::string> entry_hosts;
    for (const auto& se : config.service_entries) {
      for (const auto& h : se.spec.hosts) {
        entry_hosts.push_back(model::resolveShortName(h, AnalysisContext::namespaceOf(se.meta)));
      }
    }
    std::map<std::string, const Object*> nodes;
    for (const Object* n : policy::objectsOf(ctx, "", "Node")) nodes.emplace(n->name, n);

    for (const auto& dr : config.destination_rules) {
      const std::string written = dr.spec.host.value_or("");
      if (written.empty()) continue;
      const std::string host =
          model::resolveShortName(written, AnalysisContext::namespaceOf(dr.meta));
      auto svc = services.find(host);
      if (svc != services.end() && host.find('*') == std::string::npos) {
        checkSubsets(ctx, dr, *svc->second, nodes, out);
        continue;
      }
      bool known = false;
      for (const auto& [fqdn, s] : services) known |= model::hostMatches(host, fqdn);
      for (const auto& h : entry_hosts) known |= model::hostMatches(host, h);
      if (!known) {
        ctx.report(out, msg::kUnknownDestinationRuleHost, dr.meta, "spec.host",
                   "DestinationRule host " + written +
                       " matches no Service or ServiceEntry in the mesh, so the rule is unused");
      }
    }
  }

 private:
  static void checkSubsets(const AnalysisContext& ctx, const model::DestinationRule& dr,
                           const model::Service& svc,
                           const std::map<std::string, const Object*>& nodes, Diagnostics& out) {
    // A Service without a selector has hand-made endpoints; pods say nothing about them.
    if (svc.selector.empty()) return;
    std::vector<Labels> endpoints;
    for (const auto& pod : ctx.config().pods) {
      if (AnalysisContext::namespaceOf(pod.meta) != AnalysisContext::namespaceOf(svc.meta)) {
        continue;
      }
      if (model::selectorMatches(svc.selector, pod.meta.labels)) {
        endpoints.push_back(endpointLabels(ctx, pod, nodes));
      }
    }
    for (size_t i = 0; i < dr.spec.subsets.size(); ++i) {
      const model::Subset& subset = dr.spec.subsets[i];
      if (subset.labels.empty()) continue;
      bool selected = false;
      for (const Labels& ep : endpoints) selected |= model::selectorMatches(subset.labels, ep);
      if (selected) continue;
      ctx.report(out, msg::kDestinationRuleSubsetNotSelectPods, dr.meta,
                 "spec.subsets[" + std::to_string(i) + "]",
                 "Subset " + subset.name.value_or("") + " of DestinationRule " + dr.meta.name +
                     " (labels " + policy::selectorText(subset.labels) +
                     ") selects none of the pods of service " + svc.meta.name);
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makePodNotSelectedAnalyzer() {
  return std::make_unique<PodNotSelectedAnalyzer>();
}

}  // namespace halyard::config
