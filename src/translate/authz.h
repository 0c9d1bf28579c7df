// AuthorizationPolicy compiled for one workload (or gateway), as the proxy evaluates it
// (../shared/docs/istio-semantics.md §8): a policy matches when any rule matches; a rule when one
// of its sources, one of its operations and all of its `when` conditions match; a source or an
// operation when all of its conditions match; a condition when one of its values matches (or,
// negated, none does). String values keep Istio's four forms: exact, "prefix*", "*suffix", "*".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace halyard::translate {

enum class AuthzAction : uint8_t { kAllow, kDeny, kAudit, kCustom };

// What a condition looks at.
enum class AuthzAttribute : uint8_t {
  kPrincipal,         // the mTLS peer's SPIFFE ID without "spiffe://": "cluster.local/ns/a/sa/b"
  kRequestPrincipal,  // the JWT's "<iss>/<sub>"
  kSourceNamespace,   // from the peer's SPIFFE ID
  kSourceTrustDomain,
  kSourceIp,  // the connection's peer address (ipBlocks, source.ip)
  kRemoteIp,  // the original client (remoteIpBlocks, remote.ip): X-Forwarded-For
  kHost,      // the request's host, without port, case-insensitive
  kMethod,
  kPath,           // normalized, without the query
  kPort,           // the destination (workload) port
  kHeader,         // request.headers[key]
  kAuthAudience,   // request.auth.audiences
  kAuthPresenter,  // request.auth.presenter (azp)
  kAuthClaim,      // request.auth.claims[key], nested claims joined with '.'
  kDestinationIp,
  kSni,  // connection.sni
};

struct AuthzMatcher {
  enum class Kind : uint8_t {
    kExact,
    kPrefix,
    kSuffix,
    kPresence,  // "*": present and non-empty
    kTemplate,  // a path with {*} (one segment) or {**} (one or more, last)
    kCidr,      // an IP address or block
  };
  Kind kind = Kind::kExact;
  std::string value;  // the literal part; kTemplate: the whole template; kCidr: the address bytes
  uint8_t prefix_length = 0;  // kCidr
};

struct AuthzCondition {
  AuthzAttribute attribute = AuthzAttribute::kPrincipal;
  std::string key;  // kHeader: lowercase name; kAuthClaim: the claim path
  std::vector<AuthzMatcher> values;
  bool negated = false;  // notPrincipals, notValues, ...: matches when no value matches
};

struct AuthzRule {
  std::vector<std::vector<AuthzCondition>> from;  // empty: any source
  std::vector<std::vector<AuthzCondition>> to;    // empty: any operation
  std::vector<AuthzCondition> when;
};

struct AuthzPolicy {
  std::string name;  // "namespace/name"
  AuthzAction action = AuthzAction::kAllow;
  bool dry_run = false;          // istio.io/dry-run: evaluated and reported, never deciding
  std::string provider;          // kCustom: the extension provider's name
  std::vector<AuthzRule> rules;  // none: matches nothing (an ALLOW then denies everything)
};

}  // namespace halyard::translate
