// Bootstrap credentials: what a proxy shows in its hello to prove its namespace and service
// account before it gets a certificate (`halyard token create`, docs/control-protocol.md).
//
// A credential is `hal1.<payload>.<mac>`: the payload is base64url JSON
// {"ns": ..., "sa": ..., "iat": seconds, "exp": seconds or 0 for never} and the MAC is
// base64url HMAC-SHA256 of "hal1.<payload>" keyed by the CA directory's token-key (32 random
// bytes, made when absent, mode 0600). Whoever holds token-key can make credentials; whoever
// holds a credential can be that identity until it expires. The secret is the key, not the format.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace halyard::control::ca {

struct TokenClaims {
  std::string namespace_;
  std::string service_account;
  int64_t issued_at = 0;   // seconds since the epoch
  int64_t expires_at = 0;  // 0: never
};

class BootstrapTokens {
 public:
  static constexpr const char* kKeyFile = "token-key";
  static constexpr const char* kPrefix = "hal1";

  // The signer of the CA directory `dir` (created 0700 when absent); makes token-key there when
  // it is absent, race-free against another process doing the same.
  static common::Expected<BootstrapTokens> open(const std::string& dir);
  // A signer with this key (tests).
  explicit BootstrapTokens(std::string key) : key_(std::move(key)) {}

  // A credential for namespace/service_account, valid for ttl_seconds from `now` (0: forever).
  // Names must be Kubernetes names (lower-case letters, digits, '-' and '.').
  common::Expected<std::string> create(const std::string& namespace_,
                                       const std::string& service_account, int64_t ttl_seconds,
                                       int64_t now) const;

  // The claims of a credential this key made and that has not expired at `now`; otherwise an
  // error sentence starting "credential: " (malformed, bad signature, expired at ...).
  common::Expected<TokenClaims> verify(const std::string& token, int64_t now) const;

 private:
  std::string mac(const std::string& signed_part) const;

  std::string key_;
};

}  // namespace halyard::control::ca
