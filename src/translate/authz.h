// AuthorizationPolicy compiled for one workload (or gateway), as the proxy evaluates it
// (../shared/docs/istio-semantics.md §8): a policy matches when any rule matches; a rule when one
// of its sources, one of its operations and all of its `when` conditions match; a source or an
// operation when all of its conditions match; a condition when one of its values matches (or,
// negated, none does). String values keep Istio's four forms: exact, "prefix*", "*suffix", "*".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace halyard::translate {

enum class AuthzAction : uint8_t { kAllow, kDeny, kAudit, kCustom };

// MeshConfig pathNormalization.normalization: what the proxy does to a request's path before
// routing and authorization (and forwards). kBase is Istio's default.
enum class PathNormalization : uint8_t {
  kNone,                   // as received
  kBase,                   // RFC 3986 dot segments, backslashes, %-encoded unreserved characters
  kMergeSlashes,           // kBase, then "//" -> "/"
  kDecodeAndMergeSlashes,  // kMergeSlashes after decoding %2F and %5C
};

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

// A MeshConfig extensionProviders entry of kind envoyExtAuthzHttp or envoyExtAuthzGrpc: the
// external authorizer a CUSTOM policy hands its matching requests to, as Envoy's ext_authz
// filter does. Header lists keep Istio's string forms (exact, "prefix*", "*suffix"), matched
// against lowercase header names.
struct AuthzExtProvider {
  enum class Protocol : uint8_t { kHttp, kGrpc };
  std::string name;
  Protocol protocol = Protocol::kHttp;
  std::string service;  // the host, "ext-authz.foo.svc.cluster.local"
  uint16_t port = 0;
  std::string cluster;               // "outbound|<port>||<host>": where the check goes
  uint32_t timeout_ms = 600 * 1000;  // Istio's default: 600s
  std::string path_prefix;           // HTTP: prepended to the original path
  bool fail_open = false;            // an unreachable or failing service allows
  uint16_t status_on_error = 403;    // else the status of that answer
  std::vector<AuthzMatcher> include_request_headers;  // HTTP: besides Host, Authorization, ...
  std::vector<std::pair<std::string, std::string>> include_additional_headers;  // HTTP
  std::vector<AuthzMatcher> headers_to_upstream_on_allow;
  std::vector<AuthzMatcher> headers_to_downstream_on_allow;
  std::vector<AuthzMatcher> headers_to_downstream_on_deny;  // empty: every header of the denial
};

struct AuthzPolicy {
  std::string name;  // "namespace/name"
  AuthzAction action = AuthzAction::kAllow;
  bool dry_run = false;          // istio.io/dry-run: evaluated and reported, never deciding
  std::string provider;          // kCustom: the extension provider's name
  std::vector<AuthzRule> rules;  // none: matches nothing (an ALLOW then denies everything)
  // kCustom: the provider named, when MeshConfig defines it (null: the policy denies what it
  // matches, as Istio does for a provider it cannot find). Shared: every listener of the proxy
  // carries a copy of the policies.
  std::shared_ptr<const AuthzExtProvider> ext_provider;
};

}  // namespace halyard::translate
