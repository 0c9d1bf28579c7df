#include "config/validate/object_validator.h"

#include <string_view>

#include "config/validate/validate_kinds.h"

namespace halyard::config {

namespace {

constexpr std::string_view kDryRunAnnotation = "istio.io/dry-run";

// Only ALLOW and DENY AuthorizationPolicies may run in dry-run mode, with a boolean value. False
// when the annotation was rejected: Istio then checks nothing else.
bool checkDryRun(ObjectReport& r) {
  const Object& obj = r.object();
  auto it = obj.annotations.find(std::string(kDryRunAnnotation));
  if (it == obj.annotations.end()) return true;
  const std::string path = "metadata.annotations[" + std::string(kDryRunAnnotation) + "]";
  if (obj.kind != "AuthorizationPolicy") {
    r.error(path, "dry-run annotation on a kind that does not support it", obj.kind,
            "the annotation only on AuthorizationPolicy");
    return false;
  }
  const Node* action = obj.spec() ? obj.spec()->get("action") : nullptr;
  std::string_view a = action ? action->str("ALLOW") : "ALLOW";
  if (a != "ALLOW" && a != "DENY") {
    r.error(path, "dry-run annotation on a policy that is neither ALLOW nor DENY", a,
            "action ALLOW or DENY");
    return false;
  }
  // Go's strconv.ParseBool.
  static const std::string_view kBools[] = {"1", "t", "T", "TRUE",  "true",  "True",
                                            "0", "f", "F", "FALSE", "false", "False"};
  for (auto b : kBools) {
    if (it->second == b) return true;
  }
  r.error(path, "dry-run annotation is not a boolean", inQuotes(it->second), "true or false");
  return false;
}

}  // namespace

void validateObject(const Object& obj, Diagnostics& out) {
  using Validator = void (*)(ObjectReport&);
  struct Kind {
    std::string_view group, kind;
    Validator validate;
  };
  static constexpr Kind kKinds[] = {
      {"networking.istio.io", "Gateway", validateGateway},
      {"networking.istio.io", "VirtualService", validateVirtualService},
      {"networking.istio.io", "DestinationRule", validateDestinationRule},
      {"networking.istio.io", "ServiceEntry", validateServiceEntry},
      {"networking.istio.io", "WorkloadEntry", validateWorkloadEntry},
      {"networking.istio.io", "WorkloadGroup", validateWorkloadGroup},
      {"networking.istio.io", "Sidecar", validateSidecar},
      {"security.istio.io", "PeerAuthentication", nullptr},
      {"security.istio.io", "AuthorizationPolicy", validateAuthorizationPolicy},
      {"security.istio.io", "RequestAuthentication", validateRequestAuthentication},
  };
  for (const Kind& k : kKinds) {
    if (obj.group != k.group || obj.kind != k.kind) continue;
    ObjectReport r(obj, out);
    // PeerAuthentication has nothing beyond the CRD's own rules.
    if (checkDryRun(r) && k.validate) k.validate(r);
    return;
  }
}

}  // namespace halyard::config
