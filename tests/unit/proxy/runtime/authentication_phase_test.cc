// The authentication phase in a running proxy (hand-built snapshot with jwtRules): no token
// passes, a verified token is removed upstream and its payload forwarded, an invalid one is
// answered 401/403 with Envoy's body and www-authenticate, a CORS preflight is not checked, and a
// route matching on a claim sees the verified claims.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <string>
#include <thread>

#include "proxy/authn/test_tokens.h"
#include "proxy/runtime/proxy_runtime.h"
#include "proxy/runtime/worker_telemetry.h"

namespace halyard::proxy::runtime {
namespace {

namespace tr = halyard::translate;
using namespace authn::test_tokens;  // NOLINT: the token helpers

uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One request on a fresh connection ("Connection: close"); the whole response.
std::string roundTrip(uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

// Answers every request with the request's head as the body.
class EchoUpstream {
 public:
  EchoUpstream() : port_(freePort()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 16);
    thread_ = std::thread([this] {
      while (!stop_) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string in;
        char buf[8192];
        while (in.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        const std::string head = in.substr(0, in.find("\r\n\r\n") + 2);
        const std::string reply = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: " +
                                  std::to_string(head.size()) + "\r\n\r\n" + head;
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~EchoUpstream() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

constexpr const char* kIssuer = "https://issuer.example.com";

std::shared_ptr<const tr::Snapshot> snapshot(uint16_t upstream_port, const std::string& jwks) {
  auto s = std::make_shared<tr::Snapshot>();
  s->version = 1;
  auto table = std::make_shared<tr::RouteTable>();
  tr::VirtualHost vh;
  vh.name = "shop.example.com:80";
  vh.domains = {"shop.example.com"};
  tr::Route vip;
  vip.name = "vip";
  tr::HeaderMatcher claim;
  claim.name = "@groups";
  claim.match.kind = tr::StringMatcher::Kind::kExact;
  claim.match.value = "vip";
  vip.match.headers.push_back(claim);
  vip.action = tr::DirectResponseAction{201, "vip"};
  vh.routes.push_back(std::move(vip));
  tr::Route route;
  route.name = "shop";
  tr::ForwardAction forward;
  forward.clusters.push_back(tr::WeightedCluster{"outbound|80||shop", 1});
  forward.total_weight = 1;
  route.action = forward;
  vh.routes.push_back(std::move(route));
  table->virtual_hosts.push_back(std::move(vh));
  tr::Listener l{"0.0.0.0_80", "127.0.0.1", 80, "HTTP", tr::ListenerKind::kGateway, table};
  tr::JwtRule rule;
  rule.issuer = kIssuer;
  rule.audiences = {"shop"};
  rule.jwks = jwks;
  rule.output_payload_to_header = "x-jwt-payload";
  rule.output_claim_to_headers = {{"sub", "x-user"}};
  rule.origin = "shop/jwt jwtRules[0]";
  l.jwt_rules.push_back(rule);
  s->listeners.push_back(std::move(l));
  tr::Cluster c;
  c.name = "outbound|80||shop";
  c.endpoints.push_back(tr::Endpoint{"127.0.0.1", upstream_port});
  s->clusters.emplace(c.name, c);
  return s;
}

class AuthenticationPhase : public ::testing::Test {
 protected:
  void SetUp() override {
    key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    RuntimeOptions options;
    options.workers = 1;
    port_ = freePort();
    options.port_map[80] = port_;
    runtime_ =
        std::make_unique<ProxyRuntime>(options, nullptr, nullptr, WorkerTelemetry::Workload{});
    ASSERT_TRUE(
        runtime_->start(snapshot(upstream_.port(), "{\"keys\":[" + jwk(key_.get(), "k1") + "]}"))
            .ok());
  }
  void TearDown() override { runtime_->stop(); }

  std::string mint(const std::string& extra) {
    const int64_t now = static_cast<int64_t>(::time(nullptr));
    return token(key_.get(), "RS256",
                 std::string("{\"iss\":\"") + kIssuer + "\",\"sub\":\"alice\",\"aud\":\"shop\"" +
                     extra + ",\"exp\":" + std::to_string(now + 3600) + "}");
  }
  std::string get(const std::string& path, const std::string& headers = "") {
    return roundTrip(port_, "GET " + path + " HTTP/1.1\r\nHost: shop.example.com\r\n" + headers +
                                "Connection: close\r\n\r\n");
  }

  EchoUpstream upstream_;
  Key key_;
  uint16_t port_ = 0;
  std::unique_ptr<ProxyRuntime> runtime_;
};

TEST_F(AuthenticationPhase, NoTokenPasses) {
  const std::string r = get("/cart");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_EQ(r.find("x-jwt-payload"), std::string::npos) << r;
}

TEST_F(AuthenticationPhase, AVerifiedTokenIsRemovedAndItsPayloadForwarded) {
  const std::string t = mint("");
  const std::string r = get("/cart", "Authorization: Bearer " + t + "\r\nx-user: mallory\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_EQ(r.find("authorization:"), std::string::npos) << r;
  const std::string payload = t.substr(t.find('.') + 1, t.rfind('.') - t.find('.') - 1);
  EXPECT_NE(r.find("x-jwt-payload: " + payload + "\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("x-user: alice\r\n"), std::string::npos) << r;
  EXPECT_EQ(r.find("mallory"), std::string::npos) << r;  // the client's own x-user is replaced
}

TEST_F(AuthenticationPhase, InvalidTokensAreAnsweredAsEnvoyDoes) {
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  const std::string expired = token(
      key_.get(), "RS256",
      std::string("{\"iss\":\"") + kIssuer + "\",\"exp\":" + std::to_string(now - 3600) + "}");
  std::string r = get("/cart?a=1", "Authorization: Bearer " + expired + "\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 401 Unauthorized\r\n")) << r;
  EXPECT_NE(r.find("www-authenticate: Bearer realm=\"http://shop.example.com/cart\", "
                   "error=\"invalid_token\"\r\n"),
            std::string::npos)
      << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\nJwt is expired")) << r;

  const std::string wrong_audience =
      token(key_.get(), "RS256", std::string("{\"iss\":\"") + kIssuer + "\",\"aud\":\"billing\"}");
  r = get("/cart", "Authorization: Bearer " + wrong_audience + "\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 403 Forbidden\r\n")) << r;
  EXPECT_TRUE(r.ends_with("Audiences in Jwt are not allowed")) << r;

  // A gRPC client gets a gRPC status.
  r = roundTrip(port_,
                "POST /shop.Cart/Get HTTP/1.1\r\nHost: shop.example.com\r\nAuthorization: Bearer " +
                    expired +
                    "\r\ncontent-type: application/grpc\r\ncontent-length: 0\r\n"
                    "Connection: close\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("grpc-status: 16\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("grpc-message: Jwt is expired\r\n"), std::string::npos) << r;

  // A CORS preflight is not authenticated.
  r = roundTrip(port_,
                "OPTIONS /cart HTTP/1.1\r\nHost: shop.example.com\r\nAuthorization: Bearer " +
                    expired +
                    "\r\nOrigin: http://a.test\r\nAccess-Control-Request-Method: GET\r\n"
                    "Connection: close\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
}

TEST_F(AuthenticationPhase, RoutesMatchOnVerifiedClaims) {
  std::string r =
      get("/", "Authorization: Bearer " + mint(",\"groups\":[\"dev\",\"vip\"]") + "\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 201 ")) << r;
  r = get("/", "Authorization: Bearer " + mint(",\"groups\":[\"dev\"]") + "\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 ")) << r;
  // A header named like the claim is not a claim.
  r = get("/", "groups: vip\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 ")) << r;
}

}  // namespace
}  // namespace halyard::proxy::runtime
