// The authorization decision for one request (or TCP connection) against the compiled policies
// of its workload, in Istio's order: a matching CUSTOM policy is reported for its external
// provider to decide, then any matching DENY denies, then no ALLOW policy at all allows, then a
// matching ALLOW allows, else deny. AUDIT policies only mark the request. Dry-run policies
// (istio.io/dry-run) are evaluated and reported, and decide nothing: a dry-run ALLOW does not
// count as an ALLOW policy existing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "translate/authz.h"

namespace halyard::proxy::authz {

// An IP address as bytes (4 or 16; size 0: none, or not an address).
struct AuthzAddress {
  uint8_t size = 0;
  unsigned char bytes[16] = {};
};

// "10.0.0.1", "::1", "[::1]" -> bytes; size 0 when it is not an address.
AuthzAddress parseAuthzAddress(std::string_view ip);

// What the policies can look at. Views into the connection and request; lookups through
// callbacks so nothing is copied for attributes no policy reads. The addresses are parsed at
// most once per request, when the first IP condition looks at them.
struct AuthzRequest {
  std::string_view peer_principal;  // "spiffe://cluster.local/ns/a/sa/b"; empty: plaintext
  std::string_view source_ip;       // the connection's peer
  std::string_view remote_ip;       // the original client (X-Forwarded-For); else source_ip
  std::string_view destination_ip;
  uint16_t destination_port = 0;
  std::string_view sni;
  // HTTP (empty on TCP).
  std::string_view host;  // the authority; its port is ignored
  std::string_view method;
  std::string_view path;  // normalized, without the query
  const void* context = nullptr;
  std::optional<std::string_view> (*header)(const void* context, std::string_view name) = nullptr;
  // A verified JWT (request.auth.*); has_jwt false: none.
  bool has_jwt = false;
  std::string_view request_principal;  // "<iss>/<sub>"
  std::string_view presenter;          // azp
  const std::vector<std::string>* audiences = nullptr;
  // The values of a claim (a list claim gives each element); nested paths are '\0'-separated.
  void (*claim)(const void* context, std::string_view path,
                std::vector<std::string>& out) = nullptr;

  // The parsed source_ip, remote_ip and destination_ip (see parseAuthzAddress), cached.
  const AuthzAddress& sourceAddress() const { return address(0, source_ip); }
  const AuthzAddress& remoteAddress() const {
    return remote_ip.empty() ? sourceAddress() : address(1, remote_ip);
  }
  const AuthzAddress& destinationAddress() const { return address(2, destination_ip); }

 private:
  // Parsed again only when the view changed (a caller may reuse the request with other values).
  const AuthzAddress& address(int which, std::string_view text) const {
    if (parsed_from_[which].data() != text.data() || parsed_from_[which].size() != text.size() ||
        !(parsed_ & (1u << which))) {
      addresses_[which] = parseAuthzAddress(text);
      parsed_from_[which] = text;
      parsed_ = static_cast<uint8_t>(parsed_ | (1u << which));
    }
    return addresses_[which];
  }
  mutable AuthzAddress addresses_[3];
  mutable std::string_view parsed_from_[3];
  mutable uint8_t parsed_ = 0;
};

struct AuthzDecision {
  bool allowed = true;
  // The policy that decided: the DENY that matched, or the ALLOW that matched; null when no
  // ALLOW policy exists (allowed) or none matched (denied).
  const translate::AuthzPolicy* policy = nullptr;
  // A CUSTOM policy matched: its provider decides first (a deny there wins over this decision).
  const translate::AuthzPolicy* custom = nullptr;
  bool audit = false;                                          // an AUDIT policy matched
  std::vector<const translate::AuthzPolicy*> dry_run_matched;  // shadow matches, for the log
  // The dry-run policies' own verdicts, as Istio's two shadow RBAC filters reach them: the
  // DENY one denies when a dry-run DENY policy matches; the ALLOW one allows only when a
  // dry-run ALLOW policy matches. nullopt: no dry-run policy of that action.
  std::optional<bool> dry_run_deny_allowed;
  std::optional<bool> dry_run_allow_allowed;

  // "denied by AuthorizationPolicy shop/deny-admin", "no ALLOW AuthorizationPolicy matched".
  std::string reason() const;
};

AuthzDecision authorize(const std::vector<translate::AuthzPolicy>& policies,
                        const AuthzRequest& request);

bool policyMatches(const translate::AuthzPolicy& policy, const AuthzRequest& request);

}  // namespace halyard::proxy::authz
