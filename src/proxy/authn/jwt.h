// JSON Web Tokens as RequestAuthentication checks them (Envoy's jwt_authn semantics): a token is
// parsed once (header, claims, signature), then verified against a provider — its issuer, its
// allowed audiences, its key set — at a given time with 60 s of clock skew either way. Failures
// are statuses whose sentences are Envoy's, since they end up in 401 bodies users search for.
//
// Signatures: RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA (Ed25519). HMAC keys are not
// accepted: Istio's RequestAuthentication takes public keys only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proxy/authn/jwks.h"

namespace halyard::proxy::authn {

enum class JwtStatus : uint8_t {
  kOk,
  kBadFormat,
  kHeaderBadBase64,
  kHeaderBadJson,
  kHeaderBadAlg,
  kAlgNotImplemented,
  kHeaderBadKid,
  kPayloadBadBase64,
  kPayloadBadJson,
  kIssNotString,
  kSubNotString,
  kExpNotInteger,
  kNbfNotInteger,
  kIatNotInteger,
  kAudNotString,
  kSignatureBadBase64,
  kUnknownIssuer,
  kAudienceNotAllowed,
  kExpired,
  kNotYetValid,
  kVerificationFails,
  kNoMatchingKey,
};

// Envoy's sentence for a status ("Jwt is expired", "Jwt verification fails", ...).
std::string_view describe(JwtStatus status);

// A parsed (not yet verified) token.
struct Jwt {
  std::string alg;
  std::string kid;  // empty: none
  std::string issuer;
  std::string subject;
  std::vector<std::string> audiences;
  int64_t expires_at = 0;    // 0: no exp
  int64_t not_before = 0;    // 0: no nbf
  std::string payload_json;  // the claims as sent (for claim matching and outputPayloadToHeader)
  std::string signed_part;   // "<header>.<payload>", what the signature covers
  std::string signature;     // raw bytes
};

common::Result<Jwt, JwtStatus> parseJwt(std::string_view token);

struct JwtProvider {
  std::string issuer;                  // empty: any issuer
  std::vector<std::string> audiences;  // empty: any audience
  std::chrono::seconds clock_skew{60};
};

// Issuer, audiences, time, then the signature against `keys`.
JwtStatus verifyJwt(const Jwt& jwt, const JwtProvider& provider, const Jwks& keys, int64_t now);

// The signature alone: some key of `keys` that fits the token's kid and alg verifies it.
JwtStatus verifySignature(const Jwt& jwt, const Jwks& keys);

}  // namespace halyard::proxy::authn
