// Bootstrap credentials: made and checked with the CA directory's token-key (created once, 0600);
// a credential edited in any part, made with another key, malformed, or expired is refused with a
// sentence saying which.
#include "control/ca/bootstrap_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "control/ca/duration.h"
#include "control_test_util.h"

namespace halyard::control::ca {
namespace {

using testing::TempDir;

constexpr int64_t kNow = 1'700'000'000;

BootstrapTokens signer(char fill = 'k') {
  return BootstrapTokens(std::string(32, fill));
}

TEST(BootstrapTokenTest, ACredentialProvesItsNamespaceAndServiceAccount) {
  auto token = signer().create("shop", "web", 0, kNow);
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_TRUE(token->starts_with("hal1."));
  EXPECT_EQ(token->find_first_of(" \n=+/"), std::string::npos);  // one URL-safe line
  auto claims = signer().verify(*token, kNow + 10 * 365 * 86400);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->namespace_, "shop");
  EXPECT_EQ(claims->service_account, "web");
  EXPECT_EQ(claims->issued_at, kNow);
  EXPECT_EQ(claims->expires_at, 0);  // does not expire
}

TEST(BootstrapTokenTest, AnEditedOrForeignCredentialHasABadSignature) {
  const std::string token = *signer().create("shop", "web", 0, kNow);
  const std::string bad =
      "credential: bad signature: it was not made with this control plane's "
      "token-key";
  // Another key.
  auto foreign = signer('x').verify(token, kNow);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().message, bad);
  // The payload of another identity with this token's MAC.
  const std::string other = *signer('x').create("shop", "admin", 0, kNow);
  const std::string spliced = other.substr(0, other.rfind('.')) + token.substr(token.rfind('.'));
  auto edited = signer().verify(spliced, kNow);
  ASSERT_FALSE(edited);
  EXPECT_EQ(edited.error().message, bad);
  // One character of the MAC changed.
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  auto tampered = signer().verify(flipped, kNow);
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().message, bad);
}

TEST(BootstrapTokenTest, MalformedCredentialsAreRefused) {
  const std::string token = *signer().create("shop", "web", 0, kNow);
  for (const std::string& t :
       {std::string("hal1"), std::string("abc.def.ghi"), "hal2" + token.substr(4), token + ".x",
        std::string("hal1.."), token.substr(0, token.rfind('.')) + ".!!!"}) {
    auto r = signer().verify(t, kNow);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error().message,
              "credential: malformed: expected hal1.<payload>.<signature> as `halyard token "
              "create` prints it")
        << t;
  }
}

TEST(BootstrapTokenTest, ACredentialWithALifetimeExpires) {
  const std::string token = *signer().create("shop", "web", 3600, kNow);
  EXPECT_TRUE(signer().verify(token, kNow + 3599));
  auto expired = signer().verify(token, kNow + 3600);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().message,
            "credential: expired at 2023-11-14T23:13:20Z (made for shop/web): make a new one with "
            "`halyard token create`");
}

TEST(BootstrapTokenTest, NamesMustBeKubernetesNames) {
  EXPECT_FALSE(signer().create("Shop", "web", 0, kNow));
  EXPECT_FALSE(signer().create("shop", "", 0, kNow));
  EXPECT_FALSE(signer().create("shop.eu", "web", 0, kNow));  // a namespace has no dots
  EXPECT_TRUE(signer().create("shop", "web.v2", 0, kNow));
  EXPECT_FALSE(signer().create("shop", "web", -1, kNow));
}

TEST(BootstrapTokenTest, TheKeyIsMadeOnceWithMode0600AndReused) {
  TempDir tmp;
  const std::string dir = tmp.file("ca");
  auto first = BootstrapTokens::open(dir);
  ASSERT_TRUE(first) << first.error().message;
  const std::string key = dir + "/token-key";
  struct stat st {};
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  const std::string token = *first->create("shop", "web", 0, kNow);
  auto second = BootstrapTokens::open(dir);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->verify(token, kNow));
  // A key too short to be one is refused, not used.
  tmp.write("ca/token-key", "short");
  auto refused = BootstrapTokens::open(dir);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("holds 5 bytes"), std::string::npos);
}

TEST(DurationTest, ParsesGoStyleDurations) {
  using std::chrono::nanoseconds;
  using namespace std::chrono_literals;
  EXPECT_EQ(*parseDuration("24h"), nanoseconds(24h));
  EXPECT_EQ(*parseDuration("90m"), nanoseconds(90min));
  EXPECT_EQ(*parseDuration("30s"), nanoseconds(30s));
  EXPECT_EQ(*parseDuration("1h30m"), nanoseconds(90min));
  EXPECT_EQ(*parseDuration("1.5h"), nanoseconds(90min));
  EXPECT_EQ(*parseDuration("250ms"), nanoseconds(250ms));
  EXPECT_EQ(*parseDuration("0"), nanoseconds(0));
  for (const char* bad : {"", "10", "h", "-1h", "1d", "1h 30m", "1.2.3s"}) {
    auto r = parseDuration(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("expected e.g. 24h, 90m, 30s or 1h30m"), std::string::npos);
    }
  }
  EXPECT_EQ(formatDuration(std::chrono::seconds(86400)), "24h");
  EXPECT_EQ(formatDuration(std::chrono::seconds(5400)), "1h30m");
  EXPECT_EQ(formatDuration(std::chrono::seconds(45)), "45s");
}

}  // namespace
}  // namespace halyard::control::ca
