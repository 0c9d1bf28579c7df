// RequestAuthentication: targets and JWT rules (issuer or JWKS URI, inline JWKS, header names,
// timeout).
#include <nlohmann/json.hpp>

#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

namespace {

// Why an inline JWKS is unusable: JSON of one JWK or {"keys": [JWK...]}, each key of a known
// type with its required members.
std::optional<std::string> jwksProblem(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return "not a JSON object";
  auto key_problem = [](const nlohmann::json& key) -> std::optional<std::string> {
    if (!key.is_object()) return "a key is not a JSON object";
    auto kty = key.find("kty");
    if (kty == key.end() || !kty->is_string()) return "a key has no kty";
    static const std::map<std::string, std::vector<std::string>> kRequired = {
        {"RSA", {"n", "e"}}, {"EC", {"crv", "x", "y"}}, {"oct", {"k"}}, {"OKP", {"crv", "x"}}};
    auto required = kRequired.find(kty->get<std::string>());
    if (required == kRequired.end()) return "unknown key type " + kty->get<std::string>();
    for (const auto& member : required->second) {
      auto m = key.find(member);
      if (m == key.end() || !m->is_string())
        return "a " + required->first + " key has no " + member;
    }
    return std::nullopt;
  };
  auto keys = doc.find("keys");
  if (keys == doc.end()) return key_problem(doc);
  if (!keys->is_array()) return "keys is not a list";
  for (const auto& key : *keys) {
    if (auto p = key_problem(key)) return p;
  }
  return std::nullopt;
}

void checkJwtRule(ObjectReport& r, const std::string& path, const model::JWTRule& rule) {
  bool jwks_uri = !rule.jwks_uri.value_or("").empty() || !rule.jwks_uri_alias.value_or("").empty();
  // The CRD rejects an empty issuer string; a missing one needs a JWKS URI instead.
  if (!rule.issuer && !jwks_uri) {
    r.error(path + ".issuer", "JWT rule without issuer or jwksUri", "none",
            "issuer, or jwksUri to take it from");
  }
  if (rule.jwks && !rule.jwks->empty()) {
    if (auto problem = jwksProblem(*rule.jwks)) {
      r.error(path + ".jwks", "inline JWKS does not parse: " + *problem, "jwks",
              "a JSON Web Key Set");
    }
  }
  for (size_t i = 0; i < rule.output_claim_to_headers.size(); ++i) {
    // The CRD pattern admits '_', which Istio does not in header names it creates.
    const std::string header = rule.output_claim_to_headers[i].header.value_or("");
    if (header.find('_') != std::string::npos &&
        header.find_first_not_of("-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789") == std::string::npos) {
      r.error(indexPath(path + ".outputClaimToHeaders", i) + ".header", "invalid header name",
              inQuotes(header), "letters, digits and '-'");
    }
  }
  if (rule.timeout) r.fail(path + ".timeout", checkDurationPrecision(*rule.timeout), *rule.timeout);
}

}  // namespace

void validateRequestAuthentication(ObjectReport& r) {
  const model::RequestAuthenticationSpec ra = decodeRequestAuthentication(r.object()).spec;
  checkPolicyTargets(r, ra.target_ref, ra.target_refs);
  for (size_t i = 0; i < ra.jwt_rules.size(); ++i) {
    checkJwtRule(r, indexPath("spec.jwtRules", i), ra.jwt_rules[i]);
  }
}

}  // namespace halyard::config
