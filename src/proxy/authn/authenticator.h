// RequestAuthentication on one listener, as Istio configures Envoy's jwt_authn filter: every
// jwtRule is a provider, the requirement is "any provider, or no token at all". The token is
// looked for where the rules say (a rule without locations: `Authorization: Bearer <t>` and the
// `access_token` query parameter); no token anywhere passes unauthenticated (an
// AuthorizationPolicy may still require a principal); a token that is present must verify
// against a rule of its issuer that accepts it at that location, else the request is refused
// with Envoy's sentence (401, or 403 for audiences).
//
// One Authenticator per listener per worker (built with the worker's snapshot): its key sets
// are compiled once, and tokens that verified are cached (bounded LRU keyed by the token, until
// they expire), so a client that repeats its token pays for the signature once. A new snapshot
// builds a new Authenticator, so a changed JWKS never serves an old verdict.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxy/authn/jwks.h"
#include "proxy/authn/jwt.h"
#include "proxy/http/request_view.h"
#include "translate/jwt_rule.h"

namespace halyard::proxy::authn {

class Claims;  // the verified payload, parsed (authenticator.cc)

// A token that verified, shared between the cache and the requests that use it.
struct VerifiedJwt {
  std::string issuer;
  std::string subject;
  std::string principal;  // "<iss>/<sub>": request.auth.principal, requestPrincipals
  std::string presenter;  // azp
  std::vector<std::string> audiences;
  int64_t expires_at = 0;         // 0: never
  std::string payload_base64url;  // the token's payload segment (outputPayloadToHeader)
  size_t rule = 0;                // the index of the rule that verified it
  std::shared_ptr<const Claims> claims;

  // The values of a claim: a string (split at spaces when the claim is space-delimited), each
  // string of a list, a number or boolean as JSON writes it. `path` is '\0'-separated for nested
  // claims ("a\0b": claim b of object a). Appends to `out`.
  void claimValues(std::string_view path, std::vector<std::string>& out) const;
  // One claim for outputClaimToHeaders ('.'-separated nesting): a string as is, a number or
  // boolean as text, a list or object as base64 of its JSON; nullopt when absent.
  std::optional<std::string> claimHeaderValue(std::string_view dotted) const;
};

// Where a token was found.
struct TokenLocation {
  enum class Kind : uint8_t { kHeader, kParam, kCookie };
  Kind kind = Kind::kHeader;
  std::string name;    // header (lowercase), parameter or cookie name
  std::string prefix;  // kHeader: stripped before the token
  bool operator==(const TokenLocation&) const = default;
};

struct AuthnOutcome {
  enum class Kind : uint8_t { kNoToken, kVerified, kRejected };
  Kind kind = Kind::kNoToken;
  JwtStatus status = JwtStatus::kOk;         // kRejected: why
  std::shared_ptr<const VerifiedJwt> jwt;    // kVerified
  const translate::JwtRule* rule = nullptr;  // kVerified: the rule that verified it
  const TokenLocation* location = nullptr;   // kVerified: where the token was
  bool cached = false;                       // kVerified from the cache

  // 401 for every rejection but audiences (403), as Envoy.
  uint16_t httpStatus() const { return status == JwtStatus::kAudienceNotAllowed ? 403 : 401; }
};

class Authenticator {
 public:
  static constexpr size_t kDefaultCacheSize = 1024;

  explicit Authenticator(const std::vector<translate::JwtRule>& rules,
                         size_t cache_size = kDefaultCacheSize);

  bool empty() const { return rules_.empty(); }

  // `now`: seconds since the epoch.
  AuthnOutcome authenticate(const http::RequestView& request, int64_t now);

  // Problems found compiling the rules ("shop/jwt jwtRules[0]: Jwks is an invalid JSON"); such a
  // rule verifies nothing.
  const std::vector<std::string>& problems() const { return problems_; }
  size_t cacheSize() const { return lru_.size(); }

 private:
  struct CompiledRule {
    const translate::JwtRule* rule;
    JwtProvider provider;
    std::optional<Jwks> keys;       // nullopt: the JWKS did not parse
    std::vector<size_t> locations;  // indexes into locations_
  };
  struct Found {
    size_t location;
    std::string_view token;
  };

  void findTokens(const http::RequestView& request, std::vector<Found>& out) const;
  bool ruleAccepts(size_t rule, size_t location) const;
  std::shared_ptr<const VerifiedJwt> lookup(std::string_view token, int64_t now);
  void remember(std::string_view token, std::shared_ptr<const VerifiedJwt> jwt);

  std::vector<translate::JwtRule> owned_;  // the rules, kept by this object
  std::vector<CompiledRule> rules_;
  std::vector<TokenLocation> locations_;  // every location of every rule, once
  std::vector<std::string> problems_;

  // LRU of verified tokens: most recent at the front. The map's keys view the list's strings.
  size_t capacity_;
  using Entry = std::pair<std::string, std::shared_ptr<const VerifiedJwt>>;
  std::list<Entry> lru_;
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  std::vector<Found> found_;  // scratch, capacity kept across requests
};

}  // namespace halyard::proxy::authn
