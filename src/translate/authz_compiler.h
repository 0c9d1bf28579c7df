// AuthorizationPolicy objects -> the compiled policies one workload enforces (translate/authz.h),
// with Istio's scope rules: the workload's namespace (narrowed by `selector`) and the root
// namespace (mesh-wide, its selector matched in every namespace). For TCP traffic the
// HTTP-only attributes follow Istio: an ALLOW rule that uses one is dropped (it allows less), a
// DENY or AUDIT rule only loses the condition (it denies more).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/model/config_set.h"
#include "translate/authz.h"
#include "translate/mesh_settings.h"

namespace halyard::translate {

struct AuthzScope {
  std::string namespace_;
  std::map<std::string, std::string> labels;
  bool tcp = false;  // the listener carries TCP, not HTTP
};

// In evaluation order is irrelevant (the proxy applies CUSTOM, DENY, ALLOW itself); sorted by
// name for stable output. `warnings` gets what was dropped or is not enforced, one sentence each.
std::vector<AuthzPolicy> authzPoliciesFor(const config::model::ConfigSet& config,
                                          const MeshSettings& mesh, const AuthzScope& scope,
                                          std::vector<std::string>& warnings);

// Istio's string forms: "*" present, "abc*" prefix, "*abc" suffix, else exact.
AuthzMatcher authzStringMatcher(const std::string& value);

// One policy; the namespace is the policy's own (serviceAccounts without one use it).
AuthzPolicy compileAuthzPolicy(const config::model::AuthorizationPolicy& policy, bool tcp,
                               std::vector<std::string>& warnings);

}  // namespace halyard::translate
