// RequestAuthentication objects -> the JWT rules one workload (or gateway) applies
// (translate/jwt_rule.h), with Istio's scope and combination rules: the policies of the root
// namespace (mesh-wide, a selector matched in every namespace) and of the workload's namespace,
// each narrowed by its `selector`; a policy with targetRefs applies to the Gateway it names
// instead (kind Gateway, the workload labelled gateway.networking.k8s.io/gateway-name). The rules
// of every policy that applies are merged into one list, as Istio merges them into one
// jwt_authn filter: a token is checked by the rules of its own issuer.
//
// A rule with a jwksUri carries the key set its fetcher resolved (control/jwks); without a
// resolver, or when the URI could not be fetched, it carries kUnverifiableJwks, so its tokens
// fail verification (fail closed) rather than pass.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model/config_set.h"
#include "translate/jwt_rule.h"
#include "translate/mesh_settings.h"

namespace halyard::translate {

// A public RSA key with no private half anywhere: what a rule whose JWKS cannot be fetched
// verifies with (Istio pushes a fake JWKS the same way), so every token of its issuer fails.
extern const char* const kUnverifiableJwks;

// The JSON of a jwksUri's key set as last fetched; nullopt when it has not been fetched.
using JwksResolver = std::function<std::optional<std::string>(const std::string& uri)>;

struct AuthnScope {
  std::string namespace_;
  std::map<std::string, std::string> labels;
};

// Sorted by policy (namespace, name), each policy's rules in its order. `warnings` gets one
// sentence per problem (a JWKS URI that is not fetched, a targetRef kind that is not served).
std::vector<JwtRule> jwtRulesFor(const config::model::ConfigSet& config, const MeshSettings& mesh,
                                 const AuthnScope& scope, const JwksResolver& resolver,
                                 std::vector<std::string>& warnings);

// One rule of `policy` (`index` in its jwtRules).
JwtRule compileJwtRule(const config::model::RequestAuthentication& policy, size_t index,
                       const JwksResolver& resolver, std::vector<std::string>& warnings);

// The jwksUri of a rule (jwksUri or its jwks_uri spelling); empty: none.
std::string jwksUriOf(const config::model::JWTRule& rule);

// Every jwksUri a config names whose rule has no inline jwks: what the control plane fetches.
std::vector<std::string> jwksUris(const config::model::ConfigSet& config);

// The process-wide resolver translate uses when the caller gives none: set by the control plane
// (its JWKS fetcher); unset, URIs are unresolved and fail closed.
void setJwksResolver(JwksResolver resolver);
JwksResolver jwksResolver();

}  // namespace halyard::translate
