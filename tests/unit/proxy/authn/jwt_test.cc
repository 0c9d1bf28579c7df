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
#include "test_tokens.h"

namespace halyard::proxy::authn {
namespace {

using namespace test_tokens;  // NOLINT: the token helpers

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
