// Checks several kinds share: exportTo lists, label maps, selector keys and policy targets.
#include <set>

#include "config/validate/validate_kinds.h"

namespace halyard::config {

void checkExportTo(ObjectReport& r, const std::string& path,
                   const std::vector<std::string>& export_to, bool destination_rule_with_selector) {
  if (export_to.empty()) return;
  const std::string& ns = r.namespaceName();
  std::set<std::string> seen;
  for (size_t i = 0; i < export_to.size(); ++i) {
    const std::string& e = export_to[i];
    std::string p = indexPath(path, i);
    if (!r.isString(p)) continue;
    // "." is the object's own namespace, so "." and that namespace name repeat each other.
    const std::string key = e == "." ? ns : e;
    if (seen.contains(key)) {
      r.error(p, "duplicate exportTo entry", key != e ? "\".\" and " + inQuotes(ns) : inQuotes(e),
              "each namespace once");
    } else if (key == "*" || key == "~" || isDns1123Label(key)) {
      seen.insert(key);
    } else {
      r.error(p, "invalid exportTo entry", inQuotes(e), "\".\", \"*\", \"~\" or a namespace name");
    }
  }
  if (destination_rule_with_selector && !seen.empty()) {
    if (!seen.contains(ns)) {
      r.error(path, "DestinationRule with workloadSelector exported beyond its namespace",
              "exportTo without " + inQuotes(ns), "only the rule's own namespace");
    } else if (seen.size() > 1) {
      r.error(path, "DestinationRule with workloadSelector exported to several namespaces",
              std::to_string(seen.size()) + " entries", "only the rule's own namespace");
    }
  }
  if (seen.contains("*") && export_to.size() > 1) {
    r.error(path, "\"*\" together with other exportTo entries", "\"*\" and more", "\"*\" alone");
  }
  if (seen.contains("~") && export_to.size() > 1) {
    r.error(path, "\"~\" together with other exportTo entries", "\"~\" and more", "\"~\" alone");
  }
}

void checkLabelMap(ObjectReport& r, const std::string& path,
                   const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : labels) {
    std::string p = keyPath(path, k);
    r.fail(p, checkLabelKey(k), inQuotes(k));
    r.fail(p, checkLabelValue(v), inQuotes(v));
  }
}

bool checkSelectorLabelKeys(ObjectReport& r, const std::string& path,
                            const std::map<std::string, std::string>& labels) {
  bool ok = true;
  for (const auto& [k, v] : labels) {
    if (k.empty() || k.find('*') != std::string::npos) {
      r.error(keyPath(path, k), k.empty() ? "empty selector label key" : "wildcard in selector",
              inQuotes(k), "a label key without '*'");
      ok = false;
    }
  }
  return ok;
}

void checkPolicyTargets(ObjectReport& r, const model::Boxed<model::PolicyTargetReference>& ref,
                        const std::vector<model::PolicyTargetReference>& refs) {
  auto check = [&](const std::string& path, const model::PolicyTargetReference& t) {
    std::string group = t.group.value_or("");
    std::string kind = t.kind.value_or("");
    if (group.empty()) group = "core";
    bool allowed =
        (kind == "Service" && group == "core") ||
        (kind == "ServiceEntry" && group == "networking.istio.io") ||
        ((kind == "Gateway" || kind == "GatewayClass") && group == "gateway.networking.k8s.io");
    if (!allowed) {
      r.error(path, "unsupported policy target", inQuotes(t.group.value_or("") + "/" + kind),
              "a core Service, a networking.istio.io ServiceEntry, or a "
              "gateway.networking.k8s.io Gateway or GatewayClass");
    }
  };
  if (ref) check("spec.targetRef", *ref);
  for (size_t i = 0; i < refs.size(); ++i) check(indexPath("spec.targetRefs", i), refs[i]);
}

}  // namespace halyard::config
