#include "proxy/authn/jwt.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "proxy/authn/base64url.h"
#include "proxy/authn/jwks.h"

namespace halyard::proxy::authn {
namespace {

constexpr int64_t kNow = 1'800'000'000;

std::string base64url(const std::string& in) {
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

std::string bigEndian(EVP_PKEY* key, const char* param, size_t width = 0) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, param, &bn);
  std::string out(width ? width : static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

// The public half of `key` as a JWK.
std::string jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg = "") {
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

std::string sign(EVP_PKEY* key, const std::string& alg, const std::string& input) {
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

std::string token(EVP_PKEY* key, const std::string& alg, const std::string& claims,
                  const std::string& kid = "k1") {
  const std::string header = "{\"alg\":\"" + alg + "\",\"kid\":\"" + kid + "\",\"typ\":\"JWT\"}";
  const std::string input = base64url(header) + "." + base64url(claims);
  return input + "." + base64url(sign(key, alg, input));
}

Jwks keySet(const std::string& keys) {
  auto set = Jwks::parse("{\"keys\":[" + keys + "]}");
  EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error());
  return std::move(*set);
}

JwtStatus check(const std::string& t, const Jwks& keys, const JwtProvider& provider = {},
                int64_t now = kNow) {
  auto jwt = parseJwt(t);
  if (!jwt) return jwt.error();
  return verifyJwt(*jwt, provider, keys, now);
}

const std::string kClaims =
    "{\"iss\":\"https://issuer.example.com\",\"sub\":\"alice\",\"aud\":[\"shop\",\"other\"],"
    "\"exp\":1800000600,\"nbf\":1799999000,\"iat\":1799999000,\"groups\":[\"admin\"]}";

TEST(Jwt, EveryAlgorithmVerifies) {
  const Key rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  const Key p256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const Key p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  const Key p521(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
  const Key ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  const Jwks keys =
      keySet(jwk(rsa.get(), "k1") + "," + jwk(p256.get(), "k1") + "," + jwk(p384.get(), "k1") +
             "," + jwk(p521.get(), "k1") + "," + jwk(ed.get(), "k1"));
  ASSERT_EQ(keys.keys().size(), 5u);
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) {
    EXPECT_EQ(check(token(rsa.get(), alg, kClaims), keys), JwtStatus::kOk) << alg;
  }
  EXPECT_EQ(check(token(p256.get(), "ES256", kClaims), keys), JwtStatus::kOk);
  EXPECT_EQ(check(token(p384.get(), "ES384", kClaims), keys), JwtStatus::kOk);
  EXPECT_EQ(check(token(p521.get(), "ES512", kClaims), keys), JwtStatus::kOk);
  EXPECT_EQ(check(token(ed.get(), "EdDSA", kClaims), keys), JwtStatus::kOk);

  auto parsed = parseJwt(token(p256.get(), "ES256", kClaims));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->issuer, "https://issuer.example.com");
  EXPECT_EQ(parsed->subject, "alice");
  EXPECT_EQ(parsed->audiences, (std::vector<std::string>{"shop", "other"}));
  EXPECT_EQ(parsed->expires_at, 1800000600);
  EXPECT_EQ(parsed->payload_json, kClaims);
}

TEST(Jwt, ASignatureFromAnotherKeyOrATamperedTokenFails) {
  const Key mine(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const Key theirs(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const Jwks keys = keySet(jwk(mine.get(), "k1"));
  EXPECT_EQ(check(token(theirs.get(), "ES256", kClaims), keys), JwtStatus::kVerificationFails);
  std::string t = token(mine.get(), "ES256", kClaims);
  const size_t dot = t.find('.');
  std::string forged = t.substr(0, dot + 1) +
                       base64url("{\"iss\":\"https://issuer.example.com\",\"sub\":\"mallory\"}") +
                       t.substr(t.rfind('.'));
  EXPECT_EQ(check(forged, keys), JwtStatus::kVerificationFails);
  // No key with that kid, or none of the token's type.
  EXPECT_EQ(check(token(mine.get(), "ES256", kClaims, "k2"), keys), JwtStatus::kNoMatchingKey);
  const Key rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  EXPECT_EQ(check(token(rsa.get(), "RS256", kClaims), keys), JwtStatus::kNoMatchingKey);
  // A key's own alg must fit its curve, and then it verifies only that algorithm.
  EXPECT_FALSE(Jwks::parse("{\"keys\":[" + jwk(mine.get(), "k1", "ES384") + "]}").ok());
  const Jwks pinned = keySet(jwk(mine.get(), "k1", "ES256"));
  EXPECT_EQ(check(token(mine.get(), "ES256", kClaims), pinned), JwtStatus::kOk);
}

TEST(Jwt, IssuerAudiencesAndTimeWithSkew) {
  const Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const Jwks keys = keySet(jwk(key.get(), "k1"));
  const std::string t = token(key.get(), "ES256", kClaims);
  JwtProvider p;
  p.issuer = "https://issuer.example.com";
  EXPECT_EQ(check(t, keys, p), JwtStatus::kOk);
  p.issuer = "https://other.example.com";
  EXPECT_EQ(check(t, keys, p), JwtStatus::kUnknownIssuer);
  p.issuer.clear();
  p.audiences = {"https://shop/"};  // scheme and trailing slash do not count
  EXPECT_EQ(check(t, keys, p), JwtStatus::kOk);
  p.audiences = {"billing"};
  EXPECT_EQ(check(t, keys, p), JwtStatus::kAudienceNotAllowed);
  p.audiences.clear();
  // exp 1800000600, nbf 1799999000, 60 s of skew either way.
  EXPECT_EQ(check(t, keys, p, 1800000600 + 59), JwtStatus::kOk);
  EXPECT_EQ(check(t, keys, p, 1800000600 + 60), JwtStatus::kExpired);
  EXPECT_EQ(check(t, keys, p, 1799999000 - 60), JwtStatus::kOk);
  EXPECT_EQ(check(t, keys, p, 1799999000 - 61), JwtStatus::kNotYetValid);
  EXPECT_EQ(describe(JwtStatus::kExpired), "Jwt is expired");
  EXPECT_EQ(describe(JwtStatus::kUnknownIssuer), "Jwt issuer is not configured");
}

TEST(Jwt, MalformedTokensSayWhatIsWrong) {
  EXPECT_EQ(parseJwt("abc").error(), JwtStatus::kBadFormat);
  EXPECT_EQ(parseJwt("a.b.c.d").error(), JwtStatus::kBadFormat);
  EXPECT_EQ(parseJwt("!!.e30.AA").error(), JwtStatus::kHeaderBadBase64);
  EXPECT_EQ(parseJwt(base64url("{") + ".e30.AA").error(), JwtStatus::kHeaderBadJson);
  EXPECT_EQ(parseJwt(base64url("{}") + ".e30.AA").error(), JwtStatus::kHeaderBadAlg);
  EXPECT_EQ(parseJwt(base64url("{\"alg\":\"HS256\"}") + ".e30.AA").error(),
            JwtStatus::kAlgNotImplemented);
  EXPECT_EQ(parseJwt(base64url("{\"alg\":\"none\"}") + ".e30.").error(),
            JwtStatus::kAlgNotImplemented);
  const std::string es = base64url("{\"alg\":\"ES256\"}") + ".";
  EXPECT_EQ(parseJwt(es + "!!.AA").error(), JwtStatus::kPayloadBadBase64);
  EXPECT_EQ(parseJwt(es + base64url("[1]") + ".AA").error(), JwtStatus::kPayloadBadJson);
  EXPECT_EQ(parseJwt(es + base64url("{\"iss\":1}") + ".AA").error(), JwtStatus::kIssNotString);
  EXPECT_EQ(parseJwt(es + base64url("{\"aud\":[1]}") + ".AA").error(), JwtStatus::kAudNotString);
  EXPECT_EQ(parseJwt(es + base64url("{\"exp\":\"soon\"}") + ".AA").error(),
            JwtStatus::kExpNotInteger);
  EXPECT_EQ(parseJwt(es + base64url("{\"nbf\":-1}") + ".AA").error(), JwtStatus::kNbfNotInteger);
  EXPECT_EQ(parseJwt(es + "e30.!").error(), JwtStatus::kSignatureBadBase64);
}

TEST(Jwks, UnusableKeysAreSkippedAndNamed) {
  EXPECT_EQ(Jwks::parse("not json").error(), "Jwks is an invalid JSON");
  EXPECT_EQ(Jwks::parse("{}").error(), "Jwks does not have [keys] field");
  EXPECT_EQ(Jwks::parse("{\"keys\":{}}").error(), "[keys] in Jwks is not an array");
  auto none = Jwks::parse(
      "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},{\"kty\":\"EC\",\"crv\":\"P-256\"}]}");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("Jwks doesn't have any valid public key"), std::string::npos);
  EXPECT_NE(none.error().find("key 1: [x] field is missing for an EC key"), std::string::npos);
  const Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  auto some =
      Jwks::parse("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"}," + jwk(key.get(), "k") + "]}");
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->keys().size(), 1u);
  ASSERT_EQ(some->skipped().size(), 1u);
  EXPECT_EQ(some->skipped()[0], "key 0: [e] field is missing for a RSA key");
}

TEST(Base64Url, DecodesWithAndWithoutPadding) {
  std::string out;
  ASSERT_TRUE(decodeBase64Url("aGk", out));
  EXPECT_EQ(out, "hi");
  ASSERT_TRUE(decodeBase64Url("aGk=", out));
  EXPECT_EQ(out, "hi");
  ASSERT_TRUE(decodeBase64Url("-_8", out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_FALSE(decodeBase64Url("a", out));
  EXPECT_FALSE(decodeBase64Url("a+b/", out));
}

}  // namespace
}  // namespace halyard::proxy::authn
