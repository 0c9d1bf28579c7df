#include "proxy/authn/authenticator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_tokens.h"

namespace halyard::proxy::authn {
namespace {

using namespace test_tokens;  // NOLINT: the token helpers

constexpr const char* kIssuer = "https://issuer.example.com";

// A request with the given headers and path (query included).
struct Request {
  std::vector<http::HeaderView> headers;
  std::string path = "/";
  http::RequestView view() const {
    http::RequestView v;
    v.method = "GET";
    v.path = path;
    v.authority = "shop.example.com";
    v.scheme = "http";
    v.headers = headers;
    return v;
  }
};

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})) {
    rule_.issuer = kIssuer;
    rule_.jwks = "{\"keys\":[" + jwk(key_.get(), "k1") + "]}";
    rule_.origin = "shop/jwt jwtRules[0]";
    rule_.space_delimited_claims = {"scope", "permission"};
  }

  std::string mint(const std::string& claims) { return token(key_.get(), "RS256", claims); }
  std::string good() {
    return mint(R"({"iss":"https://issuer.example.com","sub":"alice","aud":"shop",)"
                R"("exp":1800000600,"azp":"web","groups":["admin","dev"],)"
                R"("scope":"read write","org":{"team":"payments"}})");
  }

  Key key_;
  translate::JwtRule rule_;
};

TEST_F(AuthenticatorTest, NoTokenPassesUnauthenticated) {
  Authenticator a({rule_});
  Request r;
  EXPECT_EQ(a.authenticate(r.view(), kNow).kind, AuthnOutcome::Kind::kNoToken);
}

TEST_F(AuthenticatorTest, BearerTokenVerifiesWithPrincipalAndClaims) {
  Authenticator a({rule_});
  const std::string t = good();
  const std::string bearer = "Bearer " + t;
  Request r{{{"authorization", bearer}}};
  const AuthnOutcome o = a.authenticate(r.view(), kNow);
  ASSERT_EQ(o.kind, AuthnOutcome::Kind::kVerified) << describe(o.status);
  EXPECT_EQ(o.jwt->principal, "https://issuer.example.com/alice");
  EXPECT_EQ(o.jwt->presenter, "web");
  EXPECT_EQ(o.jwt->audiences, std::vector<std::string>{"shop"});
  EXPECT_EQ(o.location->name, "authorization");
  std::vector<std::string> values;
  o.jwt->claimValues("groups", values);
  EXPECT_EQ(values, (std::vector<std::string>{"admin", "dev"}));
  values.clear();
  o.jwt->claimValues("scope", values);  // space-delimited by default
  EXPECT_EQ(values, (std::vector<std::string>{"read", "write"}));
  values.clear();
  o.jwt->claimValues(std::string_view("org\0team", 8), values);
  EXPECT_EQ(values, std::vector<std::string>{"payments"});
  EXPECT_EQ(o.jwt->claimHeaderValue("org.team"), "payments");
  EXPECT_EQ(o.jwt->claimHeaderValue("sub"), "alice");
  EXPECT_FALSE(o.jwt->claimHeaderValue("missing"));
  EXPECT_EQ(o.jwt->claimHeaderValue("groups"), "WyJhZG1pbiIsImRldiJd");  // base64 of its JSON
  EXPECT_EQ(o.jwt->claimHeaderValue("exp"), "1800000600");
  EXPECT_EQ(o.jwt->payload_base64url, t.substr(t.find('.') + 1, t.rfind('.') - t.find('.') - 1));
}

TEST_F(AuthenticatorTest, AccessTokenParameterIsADefaultLocation) {
  Authenticator a({rule_});
  Request r;
  r.path = "/items?x=1&access_token=" + good();
  EXPECT_EQ(a.authenticate(r.view(), kNow).kind, AuthnOutcome::Kind::kVerified);
}

TEST_F(AuthenticatorTest, RejectionsUseEnvoysSentences) {
  Authenticator a({rule_});
  auto status = [&](const std::string& t) {
    const std::string bearer = "Bearer " + t;
    Request r{{{"authorization", bearer}}};
    const AuthnOutcome o = a.authenticate(r.view(), kNow);
    EXPECT_EQ(o.kind, AuthnOutcome::Kind::kRejected);
    return std::string(describe(o.status));
  };
  EXPECT_EQ(status(mint(R"({"iss":"https://issuer.example.com","sub":"a","exp":1700000000})")),
            "Jwt is expired");
  EXPECT_EQ(status(mint(R"({"iss":"https://other.example.com","sub":"a"})")),
            "Jwt issuer is not configured");
  const Key other(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  EXPECT_EQ(status(token(other.get(), "RS256", R"({"iss":"https://issuer.example.com"})")),
            "Jwt verification fails");
  EXPECT_EQ(status("not-a-token"),
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
}

TEST_F(AuthenticatorTest, AudienceMismatchIs403) {
  rule_.audiences = {"billing"};
  Authenticator a({rule_});
  const std::string bearer = "Bearer " + good();
  Request r{{{"authorization", bearer}}};
  const AuthnOutcome o = a.authenticate(r.view(), kNow);
  ASSERT_EQ(o.kind, AuthnOutcome::Kind::kRejected);
  EXPECT_EQ(describe(o.status), "Audiences in Jwt are not allowed");
  EXPECT_EQ(o.httpStatus(), 403);
}

TEST_F(AuthenticatorTest, ConfiguredLocationsReplaceTheDefaults) {
  rule_.from_headers = {{"x-jwt", ""}};
  rule_.from_cookies = {"session"};
  Authenticator a({rule_});
  const std::string t = good();
  const std::string bearer = "Bearer " + t;
  Request in_default{{{"authorization", bearer}}};
  EXPECT_EQ(a.authenticate(in_default.view(), kNow).kind, AuthnOutcome::Kind::kNoToken);
  Request in_header{{{"x-jwt", t}}};
  EXPECT_EQ(a.authenticate(in_header.view(), kNow).kind, AuthnOutcome::Kind::kVerified);
  const std::string cookie = "a=b; session=" + t;
  Request in_cookie{{{"cookie", cookie}}};
  EXPECT_EQ(a.authenticate(in_cookie.view(), kNow).kind, AuthnOutcome::Kind::kVerified);
}

TEST_F(AuthenticatorTest, RulesOfSeveralIssuersCombine) {
  const Key second_key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  translate::JwtRule second;
  second.issuer = "https://second.example.com";
  second.jwks = "{\"keys\":[" + jwk(second_key.get(), "k1") + "]}";
  Authenticator a({rule_, second});
  const std::string t =
      token(second_key.get(), "ES256", R"({"iss":"https://second.example.com","sub":"bob"})");
  const std::string bearer = "Bearer " + t;
  Request r{{{"authorization", bearer}}};
  const AuthnOutcome o = a.authenticate(r.view(), kNow);
  ASSERT_EQ(o.kind, AuthnOutcome::Kind::kVerified) << describe(o.status);
  EXPECT_EQ(o.jwt->principal, "https://second.example.com/bob");
  EXPECT_EQ(o.rule->issuer, "https://second.example.com");
}

TEST_F(AuthenticatorTest, VerifiedTokensAreCachedUntilTheyExpire) {
  Authenticator a({rule_}, 2);
  const std::string bearer = "Bearer " + good();
  Request r{{{"authorization", bearer}}};
  EXPECT_FALSE(a.authenticate(r.view(), kNow).cached);
  const AuthnOutcome again = a.authenticate(r.view(), kNow);
  EXPECT_EQ(again.kind, AuthnOutcome::Kind::kVerified);
  EXPECT_TRUE(again.cached);
  // exp 1800000600, 60 s of skew: expired from 1800000660 on, cache or not.
  const AuthnOutcome late = a.authenticate(r.view(), 1'800'000'700);
  EXPECT_EQ(late.kind, AuthnOutcome::Kind::kRejected);
  EXPECT_EQ(describe(late.status), "Jwt is expired");
  // Bounded: a third token evicts the least recently used.
  for (const char* sub : {"a", "b", "c"}) {
    const std::string b =
        "Bearer " +
        mint(std::string(R"({"iss":"https://issuer.example.com","sub":")") + sub + "\"}");
    Request each{{{"authorization", b}}};
    EXPECT_EQ(a.authenticate(each.view(), kNow).kind, AuthnOutcome::Kind::kVerified);
  }
  EXPECT_EQ(a.cacheSize(), 2u);
}

TEST_F(AuthenticatorTest, AnUnusableKeySetVerifiesNothing) {
  rule_.jwks = "not json";
  Authenticator a({rule_});
  EXPECT_EQ(a.problems().size(), 1u);
  const std::string bearer = "Bearer " + good();
  Request r{{{"authorization", bearer}}};
  const AuthnOutcome o = a.authenticate(r.view(), kNow);
  EXPECT_EQ(o.kind, AuthnOutcome::Kind::kRejected);
  EXPECT_EQ(describe(o.status), "Jwt verification fails");
}

}  // namespace
}  // namespace halyard::proxy::authn
