// The jwksUri fetcher: first resolution fetches, later ones are served from the cache; a URI that
// cannot be fetched resolves to nothing (translate then fails closed) and is retried; a changed
// key set calls on_change; a failed refresh keeps the last key set; and the HTTP client against a
// real socket (status, chunked body, refused connection).
#include "control/jwks/jwks_fetcher.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "control/jwks/http_get.h"

namespace halyard::control::jwks {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKeys = R"({"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]})";
constexpr const char* kOtherKeys = R"({"keys":[{"kty":"EC","crv":"P-256","x":"c","y":"d"}]})";

struct FakeIdp {
  std::mutex mu;
  std::string body = kKeys;
  bool up = true;
  int fetches = 0;

  JwksFetcher::Fetch fetch() {
    return [this](const std::string& uri) -> common::Expected<std::string> {
      std::lock_guard lock(mu);
      ++fetches;
      if (!up) return common::fail(common::ErrorKind::kIo, "cannot connect to jwksUri " + uri);
      return body;
    };
  }
};

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 300; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

TEST(JwksFetcher, FetchesOnceThenServesTheCache) {
  FakeIdp idp;
  JwksFetcher fetcher(JwksFetcherOptions{}, {}, idp.fetch());
  EXPECT_EQ(fetcher.resolve("http://idp/keys"), kKeys);
  EXPECT_EQ(fetcher.resolve("http://idp/keys"), kKeys);
  EXPECT_EQ(idp.fetches, 1);
  EXPECT_NE(fetcher.metrics().find("halyard_control_jwks_available{uri=\"http://idp/keys\"} 1"),
            std::string::npos);
}

TEST(JwksFetcher, AnUnreachableUriResolvesToNothingAndIsRetried) {
  FakeIdp idp;
  idp.up = false;
  std::atomic<int> changes{0};
  JwksFetcherOptions options;
  options.retry = 20ms;
  JwksFetcher fetcher(
      options, [&] { ++changes; }, idp.fetch());
  fetcher.start();
  EXPECT_EQ(fetcher.resolve("http://idp/keys"), std::nullopt);
  EXPECT_NE(fetcher.metrics().find("halyard_control_jwks_available{uri=\"http://idp/keys\"} 0"),
            std::string::npos);
  {
    std::lock_guard lock(idp.mu);
    idp.up = true;
  }
  EXPECT_TRUE(eventually([&] { return changes.load() > 0; }));
  EXPECT_EQ(fetcher.resolve("http://idp/keys"), kKeys);
  fetcher.stop();
}

TEST(JwksFetcher, ARotationIsNoticedAndAFailedRefreshKeepsTheLastKeys) {
  FakeIdp idp;
  std::atomic<int> changes{0};
  JwksFetcherOptions options;
  options.refresh = 20ms;
  options.retry = 20ms;
  JwksFetcher fetcher(
      options, [&] { ++changes; }, idp.fetch());
  fetcher.start();
  EXPECT_EQ(fetcher.resolve("http://idp/keys"), kKeys);
  {
    std::lock_guard lock(idp.mu);
    idp.body = kOtherKeys;
  }
  EXPECT_TRUE(eventually([&] { return fetcher.resolve("http://idp/keys") == kOtherKeys; }));
  // on_change follows the refresh that stored the new keys.
  EXPECT_TRUE(eventually([&] { return changes.load() >= 1; }));
  {
    std::lock_guard lock(idp.mu);
    idp.up = false;
  }
  const int before = idp.fetches;
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(idp.mu);
    return idp.fetches > before + 2;
  }));
  EXPECT_EQ(fetcher.resolve("http://idp/keys"), kOtherKeys);
  fetcher.stop();
}

TEST(JwksFetcher, AnIssuersKeySetIsDiscovered) {
  int fetches = 0;
  JwksFetcher fetcher(
      JwksFetcherOptions{}, {}, [&](const std::string& uri) -> common::Expected<std::string> {
        ++fetches;
        if (uri == "https://idp.test/.well-known/openid-configuration") {
          return std::string(R"({"issuer":"https://idp.test","jwks_uri":"https://idp.test/k"})");
        }
        if (uri == "https://idp.test/k") return std::string(kKeys);
        return common::fail(common::ErrorKind::kNotFound, "no " + uri);
      });
  EXPECT_EQ(fetcher.resolve("https://idp.test/.well-known/openid-configuration"), kKeys);
  EXPECT_EQ(fetches, 2);
}

TEST(JwksFetcher, AnswersThatAreNotKeySetsAreFailures) {
  FakeIdp idp;
  idp.body = "<html>login</html>";
  JwksFetcher fetcher(JwksFetcherOptions{}, {}, idp.fetch());
  EXPECT_EQ(fetcher.resolve("http://idp/keys"), std::nullopt);
}

// One connection on a loopback socket, answered with `response`.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 1);
    thread_ = std::thread([this, response] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string got;
      while (got.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      request_ = got;
      ::send(c, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  const std::string& request() const { return request_; }

 private:
  int fd_;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(HttpGet, ReadsAPlainAndAChunkedBody) {
  {
    OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    auto body = httpGet("http://127.0.0.1:" + std::to_string(s.port()) + "/keys.json", {});
    ASSERT_TRUE(body.ok()) << body.error().message;
    EXPECT_EQ(*body, "{\"a\":1}");
  }
  {
    OneShotServer s(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
        "chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n");
    auto body = httpGet("http://127.0.0.1:" + std::to_string(s.port()) + "/k", {});
    ASSERT_TRUE(body.ok()) << body.error().message;
    EXPECT_EQ(*body, "{\"a\":1}");
  }
}

TEST(HttpGet, NamesTheUrlInEveryFailure) {
  OneShotServer s("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port()) + "/missing";
  auto status = httpGet(url, {});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "jwksUri " + url + " answered status 404, expected 200");
  auto scheme = httpGet("ftp://idp/keys", {});
  ASSERT_FALSE(scheme.ok());
  EXPECT_EQ(scheme.error().message, "jwksUri ftp://idp/keys is not an http:// or https:// URL");
}

}  // namespace
}  // namespace halyard::control::jwks
