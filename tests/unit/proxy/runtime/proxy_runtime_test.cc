// The runtime with hand-built snapshots (no YAML): workers serve a listener, forward to an
// upstream, take a new snapshot, and drain.
#include "proxy/runtime/proxy_runtime.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace halyard::proxy::runtime {
namespace {

namespace tr = halyard::translate;

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

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Sends one request and reads until the response's Content-Length body is complete.
std::string roundTrip(uint16_t port, const std::string& request) {
  const int fd = connectTo(port);
  if (fd < 0) return "connect failed";
  ::send(fd, request.data(), request.size(), 0);
  std::string got;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    const size_t end = got.find("\r\n\r\n");
    const size_t cl = got.find("content-length: ");
    if (end != std::string::npos && cl != std::string::npos && cl < end) {
      const size_t len = std::stoul(got.substr(cl + 16));
      if (got.size() >= end + 4 + len) break;
    }
  }
  ::close(fd);
  return got;
}

// A one-thread upstream that answers every request with "ok" and echoes the path in a header.
class Upstream {
 public:
  Upstream() : port_(freePort()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 16);
    thread_ = std::thread([this] { loop(); });
  }
  ~Upstream() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void loop() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      while (true) {
        const size_t end = in.find("\r\n\r\n");
        if (end != std::string::npos) {
          const std::string path =
              in.substr(in.find(' ') + 1, in.find(' ', in.find(' ') + 1) - in.find(' ') - 1);
          in.erase(0, end + 4);
          ++requests_;
          const std::string reply =
              "HTTP/1.1 200 OK\r\nx-path: " + path + "\r\ncontent-length: 2\r\n\r\nok";
          ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
          continue;
        }
        const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      ::close(c);
    }
  }

  uint16_t port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

std::shared_ptr<const tr::Snapshot> snapshot(uint16_t upstream_port, bool direct,
                                             uint64_t version) {
  auto s = std::make_shared<tr::Snapshot>();
  s->version = version;
  auto table = std::make_shared<tr::RouteTable>();
  tr::VirtualHost vh;
  vh.name = "shop.example.com:80";
  vh.domains = {"shop.example.com"};
  tr::Route route;
  route.name = "shop";
  if (direct) {
    route.action = tr::DirectResponseAction{418, "teapot"};
  } else {
    tr::ForwardAction forward;
    forward.clusters.push_back(tr::WeightedCluster{"outbound|80||shop", 1});
    forward.total_weight = 1;
    route.action = forward;
  }
  vh.routes.push_back(std::move(route));
  table->virtual_hosts.push_back(std::move(vh));
  s->listeners.push_back(tr::Listener{"0.0.0.0_80", "127.0.0.1", 80, "HTTP", tr::ListenerKind::kGateway, table});
  tr::Cluster c;
  c.name = "outbound|80||shop";
  c.endpoints.push_back(tr::Endpoint{"127.0.0.1", upstream_port});
  s->clusters.emplace(c.name, c);
  return s;
}

std::string get(uint16_t port, const std::string& host, const std::string& path) {
  return roundTrip(port,
                   "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
}

TEST(ProxyRuntime, ServesForwardsSwapsSnapshotsAndDrains) {
  Upstream upstream;
  RuntimeOptions options;
  options.workers = 2;
  const uint16_t port = freePort();
  options.port_map[80] = port;
  ProxyRuntime runtime(options, nullptr, nullptr, {});
  ASSERT_TRUE(runtime.start(snapshot(upstream.port(), false, 1)).ok());

  std::string r = get(port, "shop.example.com", "/cart");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("x-path: /cart\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("x-envoy-upstream-service-time: "), std::string::npos);
  EXPECT_TRUE(r.ends_with("ok"));

  r = get(port, "other.example.com", "/x");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 404 Not Found\r\n")) << r;
  EXPECT_NE(r.find("x-halyard-reason: no route for host other.example.com path /x"),
            std::string::npos);

  // A new snapshot reaches every worker.
  runtime.updateSnapshot(snapshot(upstream.port(), true, 2));
  bool swapped = false;
  for (int i = 0; i < 100 && !swapped; ++i) {
    swapped = get(port, "shop.example.com", "/").starts_with("HTTP/1.1 418 ");
    if (!swapped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(swapped);
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(get(port, "shop.example.com", "/").starts_with("HTTP/1.1 418 "));

  runtime.drain();
  for (int i = 0; i < 100 && runtime.activeConnections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(runtime.activeConnections(), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(connectTo(port), -1);  // no longer accepting
  runtime.stop();
}

TEST(ProxyRuntime, PortInUseFailsTheStart) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::listen(fd, 1);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  RuntimeOptions options;
  options.port_map[80] = ntohs(a.sin_port);
  ProxyRuntime runtime(options, nullptr, nullptr, {});
  auto started = runtime.start(snapshot(9, false, 1));
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("cannot bind"), std::string::npos)
      << started.error().message;
  ::close(fd);
}

}  // namespace
}  // namespace halyard::proxy::runtime
