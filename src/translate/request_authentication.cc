#include "translate/request_authentication.h"

#include <algorithm>
#include <mutex>
#include <tuple>

#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

const char* const kUnverifiableJwks =
    R"({"keys":[{"kty":"RSA","alg":"RS256","e":"AQAB","n":"nOGCoafNlQ2BKa4JtPv8KhX8D00ogk1GHGNJCsB_4)"
    R"(CLZ6uIp-KrtEmQyFtgo6mJHEH-SZUJIh5NJ1Tz0fUjLjYGRIcXoTa6tqFxLtfiNp_pLSwcVCPUDKegL5AvLQZ4E_zFFfjs)"
    R"(5egPeBy0Y62t-n0GwHaZnljAeiP7knwtESDJYzDtaFJYbUTW6EdKlFTwj7Keo4gWCpiLedz2wFuXAL_yCksNMz6ZsTTTIe)"
    R"(2XBuhXtuVcqdrh6hd5FtuE7BUEq-_nxuENxCDzSMVGRekppGbZmfshLzjG068snLOQPWG_eWqg_S4vpwZwfNIygD76fYmu)"
    R"(TyJYu3jrzQRXZax-m8Q"}]})";

namespace {

// Istio's gateway deployments for a Gateway API Gateway carry its name in this label.
constexpr const char* kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

std::mutex& resolverMutex() {
  static std::mutex mu;
  return mu;
}

JwksResolver& resolverSlot() {
  static JwksResolver resolver;
  return resolver;
}

std::string policyName(const model::RequestAuthentication& p) {
  return (p.meta.namespace_.empty() ? std::string("default") : p.meta.namespace_) + "/" +
         p.meta.name;
}

bool selects(const model::RequestAuthentication& p, const AuthnScope& scope) {
  if (!p.spec.selector) return true;
  return std::all_of(p.spec.selector->match_labels.begin(), p.spec.selector->match_labels.end(),
                     [&](const auto& kv) {
                       const auto it = scope.labels.find(kv.first);
                       return it != scope.labels.end() && it->second == kv.second;
                     });
}

// targetRefs: Istio serves kind Gateway (the Gateway API gateway a deployment runs, in the
// policy's namespace) for RequestAuthentication; other kinds (Service, for waypoints) have no
// proxy here. True when one reference names the proxy's gateway.
bool targets(const model::RequestAuthentication& p, const std::string& ns, const AuthnScope& scope,
             std::vector<std::string>& warnings) {
  std::vector<model::PolicyTargetReference> refs = p.spec.target_refs;
  if (p.spec.target_ref) refs.push_back(*p.spec.target_ref);
  bool hit = false;
  for (const auto& ref : refs) {
    const std::string kind = ref.kind.value_or("");
    if (kind != "Gateway") {
      warnings.push_back("RequestAuthentication " + policyName(p) + ": targetRef kind \"" + kind +
                         "\" is not served (only Gateway); it selects nothing here");
      continue;
    }
    const auto label = scope.labels.find(kGatewayNameLabel);
    if (ns == scope.namespace_ && label != scope.labels.end() && label->second == ref.name) {
      hit = true;
    }
  }
  return hit;
}

}  // namespace

void setJwksResolver(JwksResolver resolver) {
  std::lock_guard lock(resolverMutex());
  resolverSlot() = std::move(resolver);
}

JwksResolver jwksResolver() {
  std::lock_guard lock(resolverMutex());
  return resolverSlot();
}

std::string jwksUriOf(const model::JWTRule& rule) {
  if (rule.jwks_uri && !rule.jwks_uri->empty()) return *rule.jwks_uri;
  return rule.jwks_uri_alias.value_or("");
}

std::vector<std::string> jwksUris(const model::ConfigSet& config) {
  std::vector<std::string> out;
  for (const auto& p : config.request_authentications) {
    for (const auto& rule : p.spec.jwt_rules) {
      const std::string uri = jwksUriOf(rule);
      if (!uri.empty() && rule.jwks.value_or("").empty()) out.push_back(uri);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

JwtRule compileJwtRule(const model::RequestAuthentication& policy, size_t index,
                       const JwksResolver& resolver, std::vector<std::string>& warnings) {
  const model::JWTRule& in = policy.spec.jwt_rules[index];
  JwtRule out;
  out.origin = policyName(policy) + " jwtRules[" + std::to_string(index) + "]";
  out.issuer = in.issuer.value_or("");
  out.audiences = in.audiences;
  if (in.jwks && !in.jwks->empty()) {
    out.jwks = *in.jwks;  // inline wins over jwksUri, as in Istio
  } else if (const std::string uri = jwksUriOf(in); !uri.empty()) {
    out.jwks_uri = uri;
    std::optional<std::string> fetched;
    if (resolver) fetched = resolver(uri);
    if (fetched) {
      out.jwks = std::move(*fetched);
    } else {
      out.jwks = kUnverifiableJwks;
      warnings.push_back("RequestAuthentication " + out.origin + ": the JWKS at " + uri +
                         " could not be fetched; tokens of issuer \"" + out.issuer +
                         "\" are rejected until it is");
    }
  } else if (out.issuer.starts_with("https://") || out.issuer.starts_with("http://")) {
    // No key set named: Istio discovers it from the issuer's OpenID configuration, whose
    // jwks_uri the control plane's fetcher follows.
    std::string discovery = out.issuer;
    while (discovery.ends_with('/')) discovery.pop_back();
    discovery += "/.well-known/openid-configuration";
    out.jwks_uri = discovery;
    std::optional<std::string> fetched;
    if (resolver) fetched = resolver(discovery);
    if (fetched) {
      out.jwks = std::move(*fetched);
    } else {
      out.jwks = kUnverifiableJwks;
      warnings.push_back("RequestAuthentication " + out.origin + ": the key set of issuer \"" +
                         out.issuer + "\" could not be discovered at " + discovery +
                         "; its tokens are rejected until it is");
    }
  } else {
    out.jwks = kUnverifiableJwks;
    warnings.push_back("RequestAuthentication " + out.origin +
                       ": no jwks or jwksUri, and issuer \"" + out.issuer +
                       "\" is not a URL to discover one from; its tokens are rejected");
  }
  for (const auto& h : in.from_headers) {
    out.from_headers.push_back(
        JwtHeaderLocation{toLower(h.name.value_or("")), h.prefix.value_or("")});
  }
  out.from_params = in.from_params;
  out.from_cookies = in.from_cookies;
  out.forward_original_token = in.forward_original_token.value_or(false);
  out.output_payload_to_header = toLower(in.output_payload_to_header.value_or(""));
  for (const auto& c : in.output_claim_to_headers) {
    if (!c.claim || !c.header || c.claim->empty() || c.header->empty()) continue;
    out.output_claim_to_headers.emplace_back(*c.claim, toLower(*c.header));
  }
  // Envoy always splits these two; spaceDelimitedClaims adds to them.
  out.space_delimited_claims = {"scope", "permission"};
  for (const auto& c : in.space_delimited_claims) {
    if (std::find(out.space_delimited_claims.begin(), out.space_delimited_claims.end(), c) ==
        out.space_delimited_claims.end()) {
      out.space_delimited_claims.push_back(c);
    }
  }
  return out;
}

std::vector<JwtRule> jwtRulesFor(const model::ConfigSet& config, const MeshSettings& mesh,
                                 const AuthnScope& scope, const JwksResolver& resolver,
                                 std::vector<std::string>& warnings) {
  std::vector<const model::RequestAuthentication*> applying;
  for (const auto& p : config.request_authentications) {
    const std::string ns = p.meta.namespace_.empty() ? "default" : p.meta.namespace_;
    if (!p.spec.target_refs.empty() || p.spec.target_ref) {
      if (targets(p, ns, scope, warnings)) applying.push_back(&p);
      continue;
    }
    if (ns != scope.namespace_ && ns != mesh.root_namespace) continue;
    if (selects(p, scope)) applying.push_back(&p);
  }
  std::sort(applying.begin(), applying.end(), [](const auto* a, const auto* b) {
    return std::tie(a->meta.namespace_, a->meta.name) < std::tie(b->meta.namespace_, b->meta.name);
  });
  std::vector<JwtRule> out;
  for (const auto* p : applying) {
    for (size_t i = 0; i < p->spec.jwt_rules.size(); ++i) {
      out.push_back(compileJwtRule(*p, i, resolver, warnings));
    }
  }
  return out;
}

}  // namespace halyard::translate
