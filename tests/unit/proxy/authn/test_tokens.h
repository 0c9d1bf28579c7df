// Test tokens: keys made with OpenSSL, their public halves as JWKs, and tokens signed with them
// (what an identity provider does), for the JWT and authenticator tests.
#pragma once

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <memory>
#include <string>

namespace halyard::proxy::authn::test_tokens {

constexpr int64_t kNow = 1'800'000'000;

inline std::string base64url(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

inline std::string bigEndian(EVP_PKEY* key, const char* param, size_t width = 0) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, param, &bn);
  std::string out(width ? width : static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

// The public half of `key` as a JWK.
inline std::string jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg = "") {
  std::string fields = "\"kid\":\"" + kid + "\"";
  if (!alg.empty()) fields += ",\"alg\":\"" + alg + "\"";
  if (EVP_PKEY_is_a(key, "RSA")) {
    return "{\"kty\":\"RSA\"," + fields + ",\"n\":\"" +
           base64url(bigEndian(key, OSSL_PKEY_PARAM_RSA_N)) + "\",\"e\":\"" +
           base64url(bigEndian(key, OSSL_PKEY_PARAM_RSA_E)) + "\"}";
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    const int bits = EVP_PKEY_get_bits(key);
    const size_t width = static_cast<size_t>((bits + 7) / 8);
    const char* crv = bits == 256 ? "P-256" : bits == 384 ? "P-384" : "P-521";
    return "{\"kty\":\"EC\"," + fields + ",\"crv\":\"" + crv + "\",\"x\":\"" +
           base64url(bigEndian(key, OSSL_PKEY_PARAM_EC_PUB_X, width)) + "\",\"y\":\"" +
           base64url(bigEndian(key, OSSL_PKEY_PARAM_EC_PUB_Y, width)) + "\"}";
  }
  unsigned char raw[32];
  size_t len = sizeof(raw);
  EVP_PKEY_get_raw_public_key(key, raw, &len);
  return "{\"kty\":\"OKP\"," + fields + ",\"crv\":\"Ed25519\",\"x\":\"" +
         base64url(std::string(reinterpret_cast<char*>(raw), len)) + "\"}";
}

inline std::string sign(EVP_PKEY* key, const std::string& alg, const std::string& input) {
  const EVP_MD* md = alg.ends_with("256")   ? EVP_sha256()
                     : alg.ends_with("384") ? EVP_sha384()
                     : alg.ends_with("512") ? EVP_sha512()
                                            : nullptr;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, alg == "EdDSA" ? nullptr : md, nullptr, key);
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg.starts_with("ES")) {  // DER -> r || s, as JWS wants it
    const size_t half = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(2 * half, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()),
                 static_cast<int>(half));
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + half,
                 static_cast<int>(half));
    ECDSA_SIG_free(es);
    return raw;
  }
  return sig;
}

inline std::string token(EVP_PKEY* key, const std::string& alg, const std::string& claims,
                         const std::string& kid = "k1") {
  const std::string header = "{\"alg\":\"" + alg + "\",\"kid\":\"" + kid + "\",\"typ\":\"JWT\"}";
  const std::string input = base64url(header) + "." + base64url(claims);
  return input + "." + base64url(sign(key, alg, input));
}

}  // namespace halyard::proxy::authn::test_tokens
