#include "proxy/authn/jwt.h"

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "proxy/authn/base64url.h"

namespace halyard::proxy::authn {

namespace {

using json = nlohmann::json;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// What an algorithm needs: the key type, the digest, the padding (RSA) or the size of r and s
// in a raw ECDSA signature.
struct Algorithm {
  const char* kty;
  const EVP_MD* (*md)();
  bool pss = false;
  size_t ec_half = 0;
};

bool algorithmOf(std::string_view alg, Algorithm& out) {
  if (alg == "RS256") return out = {"RSA", EVP_sha256}, true;
  if (alg == "RS384") return out = {"RSA", EVP_sha384}, true;
  if (alg == "RS512") return out = {"RSA", EVP_sha512}, true;
  if (alg == "PS256") return out = {"RSA", EVP_sha256, true}, true;
  if (alg == "PS384") return out = {"RSA", EVP_sha384, true}, true;
  if (alg == "PS512") return out = {"RSA", EVP_sha512, true}, true;
  if (alg == "ES256") return out = {"EC", EVP_sha256, false, 32}, true;
  if (alg == "ES384") return out = {"EC", EVP_sha384, false, 48}, true;
  if (alg == "ES512") return out = {"EC", EVP_sha512, false, 66}, true;
  if (alg == "EdDSA") return out = {"OKP", nullptr}, true;
  return false;
}

// A JWS ECDSA signature is r || s, fixed width; OpenSSL verifies DER.
bool ecdsaToDer(const std::string& raw, size_t half, std::string& der) {
  if (raw.size() != 2 * half) return false;
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(half),
                        nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + half,
                        static_cast<int>(half), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* out = nullptr;
  const int n = i2d_ECDSA_SIG(sig.get(), &out);
  if (n <= 0) return false;
  der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return true;
}

bool verifyWith(EVP_PKEY* pkey, const Algorithm& a, const Jwt& jwt) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, a.md ? a.md() : nullptr, nullptr, pkey) != 1) {
    return false;
  }
  if (a.pss) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
      return false;
    }
  }
  std::string der;
  const std::string* signature = &jwt.signature;
  if (a.ec_half) {
    if (!ecdsaToDer(jwt.signature, a.ec_half, der)) return false;
    signature = &der;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                          signature->size(),
                          reinterpret_cast<const unsigned char*>(jwt.signed_part.data()),
                          jwt.signed_part.size()) == 1;
}

// Envoy compares audiences without a scheme and without a trailing slash.
std::string_view sanitizedAudience(std::string_view a) {
  if (a.starts_with("http://")) {
    a.remove_prefix(7);
  } else if (a.starts_with("https://")) {
    a.remove_prefix(8);
  }
  if (a.ends_with('/')) a.remove_suffix(1);
  return a;
}

// A NumericDate claim: absent is fine (0); present, it must be a non-negative integer.
bool numericDate(const json& claims, const char* name, int64_t& out) {
  const auto it = claims.find(name);
  if (it == claims.end()) return true;
  if (it->is_number_unsigned()) {
    out = static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), INT64_MAX));
    return true;
  }
  if (it->is_number_integer()) {
    out = it->get<int64_t>();
    return out >= 0;
  }
  return false;
}

}  // namespace

std::string_view describe(JwtStatus status) {
  switch (status) {
    case JwtStatus::kOk:
      return "OK";
    case JwtStatus::kBadFormat:
      return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    case JwtStatus::kHeaderBadBase64:
      return "Jwt header is an invalid Base64url encoded";
    case JwtStatus::kHeaderBadJson:
      return "Jwt header is an invalid JSON";
    case JwtStatus::kHeaderBadAlg:
      return "Jwt header [alg] field is required and must be a string";
    case JwtStatus::kAlgNotImplemented:
      return "Jwt header [alg] is not supported";
    case JwtStatus::kHeaderBadKid:
      return "Jwt header [kid] field is not a string";
    case JwtStatus::kPayloadBadBase64:
      return "Jwt payload is an invalid Base64url encoded";
    case JwtStatus::kPayloadBadJson:
      return "Jwt payload is an invalid JSON";
    case JwtStatus::kIssNotString:
      return "Jwt payload [iss] field is not a string";
    case JwtStatus::kSubNotString:
      return "Jwt payload [sub] field is not a string";
    case JwtStatus::kExpNotInteger:
      return "Jwt payload [exp] field is not an integer";
    case JwtStatus::kNbfNotInteger:
      return "Jwt payload [nbf] field is not an integer";
    case JwtStatus::kIatNotInteger:
      return "Jwt payload [iat] field is not an integer";
    case JwtStatus::kAudNotString:
      return "Jwt payload [aud] field is not a string or string list";
    case JwtStatus::kSignatureBadBase64:
      return "Jwt signature is an invalid Base64url encoded";
    case JwtStatus::kUnknownIssuer:
      return "Jwt issuer is not configured";
    case JwtStatus::kAudienceNotAllowed:
      return "Audiences in Jwt are not allowed";
    case JwtStatus::kExpired:
      return "Jwt is expired";
    case JwtStatus::kNotYetValid:
      return "Jwt not yet valid";
    case JwtStatus::kVerificationFails:
      return "Jwt verification fails";
    case JwtStatus::kNoMatchingKey:
      return "Jwks doesn't have key to match kid or alg from Jwt";
  }
  return "Jwt verification fails";
}

common::Result<Jwt, JwtStatus> parseJwt(std::string_view token) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return common::unexpected(JwtStatus::kBadFormat);
  }
  std::string header_text;
  if (!decodeBase64Url(token.substr(0, first), header_text)) {
    return common::unexpected(JwtStatus::kHeaderBadBase64);
  }
  const json header = json::parse(header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return common::unexpected(JwtStatus::kHeaderBadJson);
  }
  Jwt jwt;
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) return common::unexpected(JwtStatus::kHeaderBadAlg);
  jwt.alg = alg->get<std::string>();
  Algorithm algorithm;
  if (!algorithmOf(jwt.alg, algorithm)) return common::unexpected(JwtStatus::kAlgNotImplemented);
  if (const auto kid = header.find("kid"); kid != header.end()) {
    if (!kid->is_string()) return common::unexpected(JwtStatus::kHeaderBadKid);
    jwt.kid = kid->get<std::string>();
  }

  if (!decodeBase64Url(token.substr(first + 1, second - first - 1), jwt.payload_json)) {
    return common::unexpected(JwtStatus::kPayloadBadBase64);
  }
  const json claims = json::parse(jwt.payload_json, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) {
    return common::unexpected(JwtStatus::kPayloadBadJson);
  }
  if (const auto iss = claims.find("iss"); iss != claims.end()) {
    if (!iss->is_string()) return common::unexpected(JwtStatus::kIssNotString);
    jwt.issuer = iss->get<std::string>();
  }
  if (const auto sub = claims.find("sub"); sub != claims.end()) {
    if (!sub->is_string()) return common::unexpected(JwtStatus::kSubNotString);
    jwt.subject = sub->get<std::string>();
  }
  if (const auto aud = claims.find("aud"); aud != claims.end()) {
    if (aud->is_string()) {
      jwt.audiences.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (!a.is_string()) return common::unexpected(JwtStatus::kAudNotString);
        jwt.audiences.push_back(a.get<std::string>());
      }
    } else {
      return common::unexpected(JwtStatus::kAudNotString);
    }
  }
  int64_t issued_at = 0;
  if (!numericDate(claims, "exp", jwt.expires_at)) {
    return common::unexpected(JwtStatus::kExpNotInteger);
  }
  if (!numericDate(claims, "nbf", jwt.not_before)) {
    return common::unexpected(JwtStatus::kNbfNotInteger);
  }
  if (!numericDate(claims, "iat", issued_at)) {
    return common::unexpected(JwtStatus::kIatNotInteger);
  }
  if (!decodeBase64Url(token.substr(second + 1), jwt.signature)) {
    return common::unexpected(JwtStatus::kSignatureBadBase64);
  }
  jwt.signed_part.assign(token.substr(0, second));
  return jwt;
}

JwtStatus verifySignature(const Jwt& jwt, const Jwks& keys) {
  Algorithm a;
  if (!algorithmOf(jwt.alg, a)) return JwtStatus::kAlgNotImplemented;
  if (a.kty == std::string_view("OKP") && jwt.signature.size() != 64) {
    return JwtStatus::kVerificationFails;  // Ed25519 signatures are 64 bytes
  }
  bool candidate = false;
  for (const Jwks::Key& key : keys.keys()) {
    if (!jwt.kid.empty() && !key.kid.empty() && key.kid != jwt.kid) continue;
    if (!key.alg.empty() && key.alg != jwt.alg) continue;
    if (key.kty != a.kty) continue;
    candidate = true;
    if (verifyWith(key.pkey.get(), a, jwt)) return JwtStatus::kOk;
  }
  return candidate ? JwtStatus::kVerificationFails : JwtStatus::kNoMatchingKey;
}

JwtStatus verifyJwt(const Jwt& jwt, const JwtProvider& provider, const Jwks& keys, int64_t now) {
  if (!provider.issuer.empty() && jwt.issuer != provider.issuer) return JwtStatus::kUnknownIssuer;
  const int64_t skew = provider.clock_skew.count();
  if (jwt.not_before != 0 && now + skew < jwt.not_before) return JwtStatus::kNotYetValid;
  if (jwt.expires_at != 0 && now - skew >= jwt.expires_at) return JwtStatus::kExpired;
  // Envoy's order: issuer, time, audiences, then the (costlier) signature.
  if (!provider.audiences.empty()) {
    const bool allowed = std::any_of(
        jwt.audiences.begin(), jwt.audiences.end(), [&](const std::string& token_audience) {
          return std::any_of(provider.audiences.begin(), provider.audiences.end(),
                             [&](const std::string& allowed_audience) {
                               return sanitizedAudience(allowed_audience) ==
                                      sanitizedAudience(token_audience);
                             });
        });
    if (!allowed) return JwtStatus::kAudienceNotAllowed;
  }
  return verifySignature(jwt, keys);
}

}  // namespace halyard::proxy::authn
