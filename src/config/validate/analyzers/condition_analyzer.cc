// conditions.ConditionAnalyzer: status conditions that the controllers (istiod, the waypoint
// and Gateway API controllers) set to say a resource does not work as written (IST0171).
// Conditions of types they do not own (e.g. Argo CD's) are ignored.
#include <array>
#include <string>

#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

struct WatchedKind {
  std::string_view group;
  std::string_view kind;
  std::array<std::string_view, 3> types;  // condition types whose "False" is negative
  bool route = false;                     // conditions live under status.parents[]
};

constexpr std::array<WatchedKind, 6> kWatched = {{
    {"", "Service", {"istio.io/WaypointBound"}},
    {"networking.istio.io", "ServiceEntry", {"istio.io/WaypointBound"}},
    {"security.istio.io", "AuthorizationPolicy", {"ZtunnelAccepted", "WaypointAccepted"}},
    {"gateway.networking.k8s.io", "Gateway", {"Accepted", "Programmed", "ResolvedRefs"}},
    {"gateway.networking.k8s.io", "HTTPRoute", {"Accepted", "Programmed", "ResolvedRefs"}, true},
    {"gateway.networking.k8s.io", "GRPCRoute", {"Accepted", "Programmed", "ResolvedRefs"}, true},
}};

std::string textOf(const Node& cond, std::string_view key) {
  const Node* n = cond.get(key);
  auto text = n ? n->asText() : std::nullopt;
  return text ? std::string(*text) : std::string();
}

bool isNegative(const WatchedKind& wk, const Node& cond) {
  const std::string type = textOf(cond, "type");
  // A waypoint accepts a policy with some bad targetRefs as "True" with this reason.
  if (wk.kind == "AuthorizationPolicy" && type == "WaypointAccepted" &&
      textOf(cond, "reason") == "PartiallyInvalid") {
    return true;
  }
  if (textOf(cond, "status") != "False") return false;
  for (std::string_view t : wk.types) {
    if (!t.empty() && t == type) return true;
  }
  return false;
}

class ConditionAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "conditions.ConditionAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    for (const WatchedKind& wk : kWatched) {
      for (const Object* obj : policy::objectsOf(ctx, wk.group, wk.kind)) {
        const Node* status = obj->root.get("status");
        if (!status) continue;
        if (!wk.route) {
          checkList(ctx, wk, *obj, status->get("conditions"), "status.conditions", out);
          continue;
        }
        const Node* parents = status->get("parents");
        if (!parents || !parents->isList()) continue;
        for (size_t i = 0; i < parents->items.size(); ++i) {
          checkList(ctx, wk, *obj, parents->items[i].get("conditions"),
                    "status.parents[" + std::to_string(i) + "].conditions", out);
        }
      }
    }
  }

 private:
  static void checkList(const AnalysisContext& ctx, const WatchedKind& wk, const Object& obj,
                        const Node* conditions, const std::string& path, Diagnostics& out) {
    if (!conditions || !conditions->isList()) return;
    for (size_t i = 0; i < conditions->items.size(); ++i) {
      const Node& cond = conditions->items[i];
      if (!isNegative(wk, cond)) continue;
      ctx.report(out, msg::kNegativeConditionStatus, policy::metaOf(obj),
                 path + "[" + std::to_string(i) + "]",
                 "Condition " + textOf(cond, "type") + " is " + textOf(cond, "status") +
                     " (reason " + textOf(cond, "reason") + "): " + textOf(cond, "message"));
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeConditionAnalyzer() {
  return std::make_unique<ConditionAnalyzer>();
}

}  // namespace halyard::config
