// The runtime with hand-built snapshots (no YAML): workers serve a listener, forward to an
// upstream, take a new snapshot, and drain; a sidecar's listeners (outbound proxy by authority
// port, inbound, the peer header); the Istio labels of inbound and outbound requests.
#include "proxy/runtime/proxy_runtime.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "proxy/runtime/worker_telemetry.h"
#include "telemetry/peer_identity.h"
#include "wire/test_ca.h"

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

// The value of a (lowercase) header in a request head, "none" when absent.
std::string headerOf(const std::string& head, const std::string& name) {
  const size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "none";
  const size_t start = at + name.size() + 4;
  return head.substr(start, head.find("\r\n", start) - start);
}

// A one-thread upstream that answers every request with "ok" and echoes the path, Host and
// the peer metadata headers (new and retired) in headers.
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
          const std::string head = in.substr(0, end + 2);
          in.erase(0, end + 4);
          ++requests_;
          const std::string reply = "HTTP/1.1 200 OK\r\nx-path: " + path +
                                    "\r\nx-host: " + headerOf(head, "host") +
                                    "\r\nx-peer: " + headerOf(head, "x-halyard-peer-metadata") +
                                    "\r\nx-retired-peer: " + headerOf(head, "x-halyard-peer") +
                                    "\r\nx-xfcc: " + headerOf(head, "x-forwarded-client-cert") +
                                    "\r\ncontent-length: 2\r\n\r\nok";
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
  s->listeners.push_back(
      tr::Listener{"0.0.0.0_80", "127.0.0.1", 80, "HTTP", tr::ListenerKind::kGateway, table});
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

tr::VirtualHost forwardingHost(const std::string& name, std::vector<std::string> domains,
                               const std::string& cluster) {
  tr::VirtualHost vh;
  vh.name = name;
  vh.domains = std::move(domains);
  tr::Route route;
  route.name = name;
  tr::ForwardAction forward;
  forward.clusters.push_back(tr::WeightedCluster{cluster, 1});
  forward.total_weight = 1;
  route.action = forward;
  vh.routes.push_back(std::move(route));
  return vh;
}

// A sidecar's listeners in one runtime: the outbound proxy picks the route table of the
// authority's port, whose service routes to this same runtime's inbound listener, which
// forwards to the app.
struct SidecarPorts {
  uint16_t inbound = freePort();
  uint16_t outbound = freePort();
  uint16_t service = freePort();  // a destination port: never bound
};

std::shared_ptr<const tr::Snapshot> sidecarSnapshot(const SidecarPorts& ports, uint16_t app_port) {
  auto s = std::make_shared<tr::Snapshot>();
  s->version = 1;
  auto inbound = std::make_shared<tr::RouteTable>();
  inbound->virtual_hosts.push_back(forwardingHost("inbound", {"*"}, "inbound|80||"));
  s->listeners.push_back(tr::Listener{"virtualInbound", "127.0.0.1", ports.inbound, "HTTP",
                                      tr::ListenerKind::kInbound, inbound});
  s->listeners.push_back(tr::Listener{"virtualOutbound", "127.0.0.1", ports.outbound, "HTTP",
                                      tr::ListenerKind::kOutboundProxy,
                                      std::make_shared<tr::RouteTable>()});
  const std::string service_port = std::to_string(ports.service);
  auto items = std::make_shared<tr::RouteTable>();
  items->virtual_hosts.push_back(forwardingHost(
      "items-api-svc:" + service_port, {"items-api-svc", "items-api-svc:" + service_port},
      "outbound|" + service_port + "||items-api-svc.default.svc.cluster.local"));
  s->listeners.push_back(tr::Listener{"0.0.0.0_" + service_port, "0.0.0.0", ports.service, "HTTP",
                                      tr::ListenerKind::kOutboundPort, items});
  auto web = std::make_shared<tr::RouteTable>();
  web->virtual_hosts.push_back(
      forwardingHost("web:80", {"web", "web:80"}, "outbound|80||web.default.svc.cluster.local"));
  s->listeners.push_back(
      tr::Listener{"0.0.0.0_80", "0.0.0.0", 80, "HTTP", tr::ListenerKind::kOutboundPort, web});
  tr::Cluster items_cluster;
  items_cluster.name = "outbound|" + service_port + "||items-api-svc.default.svc.cluster.local";
  items_cluster.endpoints.push_back(tr::Endpoint{"127.0.0.1", ports.inbound});
  tr::Cluster web_cluster;
  web_cluster.name = "outbound|80||web.default.svc.cluster.local";
  web_cluster.endpoints.push_back(tr::Endpoint{"127.0.0.1", app_port});
  tr::Cluster app;
  app.name = "inbound|80||";
  app.endpoints.push_back(tr::Endpoint{"127.0.0.1", app_port});
  for (auto* c : {&items_cluster, &web_cluster, &app}) s->clusters.emplace(c->name, *c);
  return s;
}

TEST(ProxyRuntime, OutboundProxyRoutesByTheAuthorityPortAndAddsThePeerHeader) {
  Upstream app;
  SidecarPorts ports;
  RuntimeOptions options;
  options.connection.peer_header = "workload=web;app=web;version=v1";
  ProxyRuntime runtime(options, nullptr, nullptr, {});
  ASSERT_TRUE(runtime.start(sidecarSnapshot(ports, app.port())).ok());
  const std::string service_port = std::to_string(ports.service);

  // Absolute-form, as an app with HTTP_PROXY sends it: through the outbound proxy to the
  // inbound listener (which removes the peer header) to the app, with an origin-form target.
  // The peer header the client sent is replaced on the way out.
  std::string r =
      roundTrip(ports.outbound, "GET http://items-api-svc:" + service_port +
                                    "/x?q=1 HTTP/1.1\r\nHost: items-api-svc:" + service_port +
                                    "\r\nx-halyard-peer: workload=forged\r\n"
                                    "x-halyard-peer-metadata: workload=forged\r\n"
                                    "Connection: close\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("x-path: /x?q=1\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("x-host: items-api-svc:" + service_port + "\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("x-peer: none\r\n"), std::string::npos) << r;  // the inbound hop removed it
  EXPECT_NE(r.find("x-retired-peer: none\r\n"), std::string::npos) << r;

  // Host header without a port: port 80's table; the app sees this workload's peer header.
  r = get(ports.outbound, "web", "/y");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("x-peer: workload=web;app=web;version=v1\r\n"), std::string::npos) << r;

  // A port no service has, and a host the port's table does not know: outside the registry,
  // passed through as outboundTrafficPolicy ALLOW_ANY says, to a name that does not resolve.
  r = get(ports.outbound, "items-api-svc:1", "/x");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << r;
  EXPECT_NE(r.find("x-halyard-reason: items-api-svc:1 is not in the mesh's registry, and passing "
                   "it through (outboundTrafficPolicy ALLOW_ANY) failed: cannot resolve "
                   "items-api-svc"),
            std::string::npos)
      << r;
  r = get(ports.outbound, "other.invalid:" + service_port, "/x");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << r;
  EXPECT_NE(r.find("cannot resolve other.invalid"), std::string::npos) << r;

  // The destination port's route table is never a socket.
  EXPECT_EQ(connectTo(ports.service), -1);
  runtime.stop();
}

// ---- mesh mutual TLS -------------------------------------------------------------------

constexpr const char* kItemsId = "spiffe://cluster.local/ns/default/sa/items";

// A test CA that issues workload identities as the control plane's CA would.
class TestPki {
 public:
  std::string rootPem() const { return ca_.rootPem(); }
  translate::WorkloadIdentity identity(const std::string& spiffe_id) const {
    wire::testing::Pkey key = wire::testing::newKey();
    wire::testing::Cert leaf = ca_.issue(key.get(), "critical,URI:" + spiffe_id);
    translate::WorkloadIdentity id;
    id.spiffe_id = spiffe_id;
    id.certificate_chain_pem = wire::testing::pemOf(leaf.get());
    id.private_key_pem = wire::testing::pemOf(key.get());
    id.root_certificates_pem = ca_.rootPem();
    return id;
  }

 private:
  wire::testing::TestCa ca_;
};

// The sidecar snapshot with PeerAuthentication `mode` on the inbound listener and Istio mutual
// TLS (auto mTLS) from the outbound side to the items service, whose endpoint is this very
// sidecar's inbound listener.
std::shared_ptr<const tr::Snapshot> meshSnapshot(const SidecarPorts& ports, uint16_t app_port,
                                                 tr::PeerAuthMode mode,
                                                 std::vector<std::string> sans = {kItemsId}) {
  auto s = std::make_shared<tr::Snapshot>(*sidecarSnapshot(ports, app_port));
  s->listeners[0].mtls = {mode, "PeerAuthentication default/test (workload)"};
  const std::string port = std::to_string(ports.service);
  tr::Cluster& items =
      s->clusters.at("outbound|" + port + "||items-api-svc.default.svc.cluster.local");
  tr::UpstreamTls tls;
  tls.mode = tr::UpstreamTls::Mode::kIstioMutual;
  tls.sni = "outbound_." + port + "_._.items-api-svc.default.svc.cluster.local";
  tls.subject_alt_names = std::move(sans);
  items.tls = tls;
  items.auto_mtls = true;
  items.endpoints[0].service_account = "items";
  items.endpoints[0].mesh_mtls = mode != tr::PeerAuthMode::kDisable;
  items.endpoints[0].requires_mtls = mode == tr::PeerAuthMode::kStrict;
  return s;
}

// One request over TLS to `port`, presenting `client` (null: no certificate), verifying the
// server against `root`; "handshake failed" when it does not complete.
std::string mtlsRoundTrip(uint16_t port, const std::string& request, const std::string& root,
                          const translate::WorkloadIdentity* client) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  BIO* root_bio = BIO_new_mem_buf(root.data(), static_cast<int>(root.size()));
  X509* root_cert = PEM_read_bio_X509(root_bio, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), root_cert);
  X509_free(root_cert);
  BIO_free(root_bio);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (client) {
    BIO* cert = BIO_new_mem_buf(client->certificate_chain_pem.data(), -1);
    X509* leaf = PEM_read_bio_X509(cert, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, leaf);
    X509_free(leaf);
    BIO_free(cert);
    BIO* key = BIO_new_mem_buf(client->private_key_pem.data(), -1);
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(key, nullptr, nullptr, nullptr);
    SSL_CTX_use_PrivateKey(ctx, pkey);
    EVP_PKEY_free(pkey);
    BIO_free(key);
  }
  const int fd = connectTo(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string got;
  if (fd >= 0 && SSL_connect(ssl) == 1) {
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buf[4096];
    while (true) {
      const int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  if (got.empty()) got = "handshake failed or no response";
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  if (fd >= 0) ::close(fd);
  return got;
}

std::string viaOutbound(const SidecarPorts& ports) {
  const std::string port = std::to_string(ports.service);
  return roundTrip(ports.outbound, "GET http://items-api-svc:" + port +
                                       "/m HTTP/1.1\r\nHost: items-api-svc:" + port +
                                       "\r\nx-forwarded-client-cert: By=forged\r\n"
                                       "Connection: close\r\n\r\n");
}

TEST(MeshMtls, StrictInboundTakesOnlyMutualTlsAndTellsTheAppWhoCalled) {
  Upstream app;
  SidecarPorts ports;
  TestPki pki;
  ProxyRuntime runtime(RuntimeOptions{}, nullptr, nullptr, {});
  runtime.setWorkloadIdentity(
      std::make_shared<const translate::WorkloadIdentity>(pki.identity(kItemsId)));
  ASSERT_TRUE(runtime.start(meshSnapshot(ports, app.port(), tr::PeerAuthMode::kStrict)).ok());

  // Outbound -> (auto mTLS, SNI outbound_..., the server's SPIFFE ID verified) -> inbound.
  std::string r = viaOutbound(ports);
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  const std::string xfcc = headerOf(r, "x-xfcc");
  EXPECT_TRUE(xfcc.starts_with(std::string("By=") + kItemsId + ";Hash=")) << xfcc;
  EXPECT_TRUE(xfcc.ends_with(std::string(";Subject=\"\";URI=") + kItemsId)) << xfcc;
  EXPECT_EQ(xfcc.find("forged"), std::string::npos) << xfcc;
  EXPECT_EQ(xfcc.size(),
            std::string("By=;Hash=;Subject=\"\";URI=").size() + 2 * strlen(kItemsId) + 64);

  // Plaintext straight to the inbound port: closed without an answer.
  r = get(ports.inbound, "items", "/plain");
  EXPECT_EQ(r, "") << r;
  // TLS without a client certificate: no handshake.
  r = mtlsRoundTrip(ports.inbound, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", pki.rootPem(), nullptr);
  EXPECT_FALSE(r.starts_with("HTTP/1.1")) << r;
  // Another workload of the mesh with its own certificate: its identity reaches the app, what
  // it claims in headers does not.
  const translate::WorkloadIdentity caller = pki.identity("spiffe://cluster.local/ns/shop/sa/web");
  r = mtlsRoundTrip(ports.inbound,
                    "GET /direct HTTP/1.1\r\nHost: items\r\nx-forwarded-client-cert: URI=forged\r\n"
                    "x-halyard-peer: workload=forged;namespace=admin;sa=admin\r\n"
                    "Connection: close\r\n\r\n",
                    pki.rootPem(), &caller);
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(headerOf(r, "x-xfcc").find(";URI=spiffe://cluster.local/ns/shop/sa/web"),
            std::string::npos)
      << r;
  EXPECT_EQ(r.find("forged"), std::string::npos) << r;
  // A certificate from another CA: refused.
  TestPki other;
  const translate::WorkloadIdentity stranger =
      other.identity("spiffe://cluster.local/ns/shop/sa/web");
  r = mtlsRoundTrip(ports.inbound, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", pki.rootPem(), &stranger);
  EXPECT_FALSE(r.starts_with("HTTP/1.1")) << r;
}

TEST(MeshMtls, PermissiveInboundTakesBothAndPlaintextCarriesNoIdentity) {
  Upstream app;
  SidecarPorts ports;
  TestPki pki;
  ProxyRuntime runtime(RuntimeOptions{}, nullptr, nullptr, {});
  runtime.setWorkloadIdentity(
      std::make_shared<const translate::WorkloadIdentity>(pki.identity(kItemsId)));
  ASSERT_TRUE(runtime.start(meshSnapshot(ports, app.port(), tr::PeerAuthMode::kPermissive)).ok());
  std::string r = roundTrip(ports.inbound,
                            "GET /plain HTTP/1.1\r\nHost: items\r\nx-forwarded-client-cert: "
                            "URI=spiffe://forged\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_EQ(headerOf(r, "x-xfcc"), "none") << r;
  r = viaOutbound(ports);
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(headerOf(r, "x-xfcc").find(std::string(";URI=") + kItemsId), std::string::npos) << r;
}

TEST(MeshMtls, FailuresSayWhy) {
  Upstream app;
  SidecarPorts ports;
  TestPki pki;
  const std::string port = std::to_string(ports.service);
  {
    // No workload certificate yet: the mesh endpoint cannot be reached, and the reason says so.
    ProxyRuntime runtime(RuntimeOptions{}, nullptr, nullptr, {});
    ASSERT_TRUE(runtime.start(meshSnapshot(ports, app.port(), tr::PeerAuthMode::kStrict)).ok());
    const std::string r = viaOutbound(ports);
    EXPECT_TRUE(r.starts_with("HTTP/1.1 503")) << r;
    EXPECT_NE(r.find("workload certificate"), std::string::npos) << r;
  }
  {
    // The server's certificate names another service account than the destination's.
    ProxyRuntime runtime(RuntimeOptions{}, nullptr, nullptr, {});
    runtime.setWorkloadIdentity(
        std::make_shared<const translate::WorkloadIdentity>(pki.identity(kItemsId)));
    ASSERT_TRUE(runtime
                    .start(meshSnapshot(ports, app.port(), tr::PeerAuthMode::kStrict,
                                        {"spiffe://cluster.local/ns/default/sa/other"}))
                    .ok());
    const std::string r = viaOutbound(ports);
    EXPECT_TRUE(r.starts_with("HTTP/1.1 503")) << r;
    EXPECT_NE(r.find("TLS handshake with"), std::string::npos) << r;
  }
  {
    // A DestinationRule that disables TLS towards a STRICT destination.
    auto s =
        std::make_shared<tr::Snapshot>(*meshSnapshot(ports, app.port(), tr::PeerAuthMode::kStrict));
    tr::Cluster& items =
        s->clusters.at("outbound|" + port + "||items-api-svc.default.svc.cluster.local");
    items.tls.reset();
    items.auto_mtls = false;
    items.tls_disabled_by = "default/items-dr trafficPolicy.tls";
    ProxyRuntime runtime(RuntimeOptions{}, nullptr, nullptr, {});
    runtime.setWorkloadIdentity(
        std::make_shared<const translate::WorkloadIdentity>(pki.identity(kItemsId)));
    ASSERT_TRUE(runtime.start(s).ok());
    const std::string r = viaOutbound(ports);
    EXPECT_TRUE(r.starts_with("HTTP/1.1 503")) << r;
    EXPECT_NE(r.find("the destination requires mutual TLS (its PeerAuthentication is STRICT) but "
                     "default/items-dr trafficPolicy.tls sets tls mode DISABLE"),
              std::string::npos)
        << r;
  }
}

TEST(WorkerTelemetry, InboundIsReportedByTheDestinationWithThePeerAsSource) {
  WorkerTelemetry t(
      nullptr, nullptr,
      {"items-api", "shop", "items", "v2", "spiffe://cluster.local/ns/shop/sa/items", "2.0.1"});
  tr::Cluster inbound;
  inbound.name = "inbound|8080||";
  inbound.service_host = "items-api-svc.shop.svc.cluster.local";
  inbound.service_name = "items-api-svc";
  inbound.service_namespace = "shop";
  RequestRecord record;
  record.cluster = &inbound;
  record.listener_kind = tr::ListenerKind::kInbound;
  telemetry::IstioRequestLabels l = t.istioLabels(record);
  EXPECT_EQ(l.reporter, "destination");
  EXPECT_EQ(l.source_workload, "unknown");  // plaintext: no peer
  EXPECT_EQ(l.destination_workload, "items-api");
  EXPECT_EQ(l.destination_workload_namespace, "shop");
  EXPECT_EQ(l.destination_app, "items");
  EXPECT_EQ(l.destination_version, "v2");
  EXPECT_EQ(l.destination_canonical_revision, "2.0.1");
  EXPECT_EQ(l.source_canonical_revision, "latest");  // no peer
  EXPECT_EQ(l.destination_principal, "spiffe://cluster.local/ns/shop/sa/items");
  EXPECT_EQ(l.destination_service, "items-api-svc.shop.svc.cluster.local");
  EXPECT_EQ(l.destination_service_name, "items-api-svc");
  EXPECT_EQ(l.connection_security_policy, "none");

  // Mutual TLS: the namespace and principal from the client certificate, the rest from the
  // metadata header.
  record.has_peer = true;
  record.mutual_tls = true;
  ASSERT_TRUE(
      telemetry::parsePeerIdentity("workload=web;app=;version=v1;revision=1.4", record.peer));
  record.peer.namespace_ = "default";
  record.peer_principal = "spiffe://cluster.local/ns/default/sa/web-sa";
  record.own_principal = "spiffe://example.org/ns/shop/sa/items";
  l = t.istioLabels(record);
  EXPECT_EQ(l.source_workload, "web");
  EXPECT_EQ(l.source_workload_namespace, "default");
  EXPECT_EQ(l.source_app, "web");  // no app label: the workload name
  EXPECT_EQ(l.source_canonical_service, "web");
  EXPECT_EQ(l.source_version, "v1");
  EXPECT_EQ(l.source_canonical_revision, "1.4");
  EXPECT_EQ(l.source_principal, "spiffe://cluster.local/ns/default/sa/web-sa");
  EXPECT_EQ(l.destination_principal, "spiffe://example.org/ns/shop/sa/items");
  EXPECT_EQ(l.connection_security_policy, "mutual_tls");
}

TEST(WorkerTelemetry, OutboundIsReportedByTheSourceWithTheChosenEndpoint) {
  WorkerTelemetry t(nullptr, nullptr, {"web", "default", "web", "unknown", "unknown"});
  tr::Cluster c;
  c.name = "outbound|8080||items-api-svc.shop.svc.cluster.local";
  c.service_host = "items-api-svc.shop.svc.cluster.local";
  c.service_name = "items-api-svc";
  c.service_namespace = "shop";
  tr::Endpoint e{"10.0.0.7", 15006};
  e.workload = "items-api-7f9";
  e.namespace_ = "shop";
  e.labels = {{"app", "items"}, {"version", "v2"}, {"app.kubernetes.io/version", "2.3"}};
  tr::nameEndpoint(e);
  RequestRecord record;
  record.cluster = &c;
  record.listener_kind = tr::ListenerKind::kOutboundProxy;
  telemetry::IstioRequestLabels l = t.istioLabels(record);
  EXPECT_EQ(l.reporter, "source");
  EXPECT_EQ(l.source_workload, "web");
  EXPECT_EQ(l.source_workload_namespace, "default");
  EXPECT_EQ(l.destination_workload, "unknown");  // no endpoint chosen
  EXPECT_EQ(l.destination_canonical_revision, "latest");
  EXPECT_EQ(l.source_canonical_revision, "latest");
  EXPECT_EQ(l.destination_workload_namespace, "shop");

  record.endpoint = &e;
  l = t.istioLabels(record);
  EXPECT_EQ(l.destination_workload, "items-api-7f9");
  EXPECT_EQ(l.destination_workload_namespace, "shop");
  EXPECT_EQ(l.destination_app, "items");
  EXPECT_EQ(l.destination_canonical_service, "items");
  EXPECT_EQ(l.destination_version, "v2");
  // Istio's order: app.kubernetes.io/version before version.
  EXPECT_EQ(l.destination_canonical_revision, "2.3");
  EXPECT_EQ(l.destination_service_name, "items-api-svc");
  EXPECT_EQ(l.connection_security_policy, "unknown");
}

TEST(WorkerTelemetry, CanonicalServiceFollowsIstiosLabelOrderOnBothSides) {
  // The proxy's own: service.istio.io/canonical-name over app.
  WorkerTelemetry::Workload self{"web-1", "default", "web", "v1", "unknown", "latest"};
  self.canonical_service = tr::canonicalService(
      {{"app", "web"}, {"service.istio.io/canonical-name", "storefront"}}, "web-1");
  WorkerTelemetry t(nullptr, nullptr, self);
  tr::Cluster c;
  c.service_name = "items";
  tr::Endpoint e{"10.0.0.7", 15006};
  e.workload = "items-1";
  // app.kubernetes.io/name over app; destination_app stays the app label.
  e.labels = {{"app", "items"}, {"app.kubernetes.io/name", "catalog"}};
  tr::nameEndpoint(e);
  RequestRecord record;
  record.cluster = &c;
  record.endpoint = &e;
  record.listener_kind = tr::ListenerKind::kOutboundProxy;
  telemetry::IstioRequestLabels l = t.istioLabels(record);
  EXPECT_EQ(l.source_canonical_service, "storefront");
  EXPECT_EQ(l.source_app, "web");
  EXPECT_EQ(l.destination_canonical_service, "catalog");
  EXPECT_EQ(l.destination_app, "items");

  // Inbound: the proxy is the destination; the caller's from its header's service key, else its
  // app (an older proxy's header).
  record = RequestRecord{};
  record.cluster = &c;
  record.listener_kind = tr::ListenerKind::kInbound;
  record.has_peer = true;
  record.mutual_tls = true;
  ASSERT_TRUE(telemetry::parsePeerIdentity("workload=items-1;app=items;version=v1;service=catalog",
                                           record.peer));
  l = t.istioLabels(record);
  EXPECT_EQ(l.destination_canonical_service, "storefront");
  EXPECT_EQ(l.source_canonical_service, "catalog");
  EXPECT_EQ(l.source_app, "items");
  ASSERT_TRUE(telemetry::parsePeerIdentity("workload=items-1;app=items", record.peer));
  EXPECT_EQ(t.istioLabels(record).source_canonical_service, "items");

  // No canonical service given: the app stands for it.
  WorkerTelemetry plain(nullptr, nullptr, {"web-1", "default", "web", "v1", "unknown", "latest"});
  EXPECT_EQ(plain.istioLabels(record).destination_canonical_service, "web");
}

}  // namespace
}  // namespace halyard::proxy::runtime
