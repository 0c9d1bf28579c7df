// k8sgateway.SelectorAnalyzer: a policy that picks a Kubernetes Gateway API gateway's pods by
// workloadSelector labels is ignored by those gateways; they need targetRef(s) (IST0166).
#include <array>
#include <map>
#include <set>
#include <string>

#include "config/model/host_name.h"
#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

struct PolicyKind {
  std::string_view group;
  std::string_view kind;
};

// The kinds with a `selector` that Gateway API gateways honour only through targetRef(s). Read
// as raw objects: WasmPlugin and Telemetry have no typed model.
constexpr std::array<PolicyKind, 4> kPolicyKinds = {{
    {"security.istio.io", "AuthorizationPolicy"},
    {"security.istio.io", "RequestAuthentication"},
    {"telemetry.istio.io", "Telemetry"},
    {"extensions.istio.io", "WasmPlugin"},
}};

// spec.selector.matchLabels as a map; false when the policy has no selector.
bool selectorOf(const Object& obj, std::map<std::string, std::string>& labels) {
  const Node* spec = obj.spec();
  const Node* selector = spec ? spec->get("selector") : nullptr;
  if (!selector || !selector->isMap()) return false;
  if (const Node* match = selector->get("matchLabels"); match && match->isMap()) {
    for (const auto& e : match->fields) {
      if (auto text = e.value.asText()) labels[e.key] = std::string(*text);
    }
  }
  return true;
}

bool hasTargetRef(const Object& obj) {
  const Node* spec = obj.spec();
  if (!spec) return false;
  if (const Node* ref = spec->get("targetRef"); ref && !ref->isNull()) return true;
  const Node* refs = spec->get("targetRefs");
  return refs && refs->isList() && !refs->items.empty();
}

class GatewaySelectorAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "k8sgateway.SelectorAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    std::vector<const model::Pod*> gateway_pods;
    for (const auto& pod : ctx.config().pods) {
      if (pod.meta.labels.contains(std::string(policy::kGatewayNameLabel))) {
        gateway_pods.push_back(&pod);
      }
    }
    if (gateway_pods.empty()) return;
    for (const PolicyKind& pk : kPolicyKinds) {
      for (const Object* obj : policy::objectsOf(ctx, pk.group, pk.kind)) {
        std::map<std::string, std::string> selector;
        if (hasTargetRef(*obj) || !selectorOf(*obj, selector)) continue;
        const std::string& ns = obj->namespaceOrDefault();
        std::set<std::string> gateways;  // one message per gateway, however many replicas
        for (const model::Pod* pod : gateway_pods) {
          if (AnalysisContext::namespaceOf(pod->meta) != ns) continue;
          if (!model::selectorMatches(selector, pod->meta.labels)) continue;
          const std::string gw(policy::valueOr(pod->meta.labels, policy::kGatewayNameLabel));
          if (!gateways.insert(gw).second) continue;
          ctx.report(out, msg::kIneffectiveSelector, policy::metaOf(*obj), "spec.selector",
                     "The selector of " + obj->kind + " " + obj->name +
                         " matches pods of Kubernetes Gateway " + gw +
                         ", which ignores selectors; use targetRefs instead");
        }
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeGatewaySelectorAnalyzer() {
  return std::make_unique<GatewaySelectorAnalyzer>();
}

}  // namespace halyard::config
