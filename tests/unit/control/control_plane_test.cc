// The control plane in-process, over real gRPC and TLS, with a proxy stream client of the tests'
// own (test_proxy_client.h): first snapshot, pushes after file edits, no push for changes that do
// not concern a proxy, quarantine, NACKs, sidecars and their self-registered workloads (reached
// through their inbound ports), sidecars sharing one outbound translation unless sourceLabels
// set them apart, and versions above a reconnecting proxy's. And identity: the certificate before
// the first push, hellos refused for their credential or CSR, renewals on the stream.
#include "control/control_plane.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <mutex>

#include "ca_test_util.h"
#include "control/ca/bootstrap_token.h"
#include "control/ca/certificate_authority.h"
#include "control_test_util.h"
#include "halyard/v1/discovery.grpc.pb.h"
#include "test_proxy_client.h"

namespace halyard::control {
namespace {

using testing::TempDir;
using testing::waitFor;
using namespace std::chrono_literals;

constexpr const char* kGateway = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
)";

constexpr const char* kBackend = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: ["backend.internal"]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: 9001}}]
)";

std::string shopRoute(const std::string& prefix, int weight = 100) {
  return "apiVersion: networking.istio.io/v1\n"
         "kind: VirtualService\n"
         "metadata: {name: shop, namespace: default}\n"
         "spec:\n"
         "  hosts: [\"shop.example.com\"]\n"
         "  gateways: [\"istio-system/gw\"]\n"
         "  http:\n"
         "  - match: [{uri: {prefix: \"" +
         prefix +
         "\"}}]\n"
         "    route:\n"
         "    - destination: {host: backend.internal, port: {number: 80}}\n"
         "      weight: " +
         std::to_string(weight) + "\n";
}

// A credential for the hello's identity, made with the CA directory's token-key.
std::string credentialFor(const std::string& ca_dir, const v1::ProxyHello& hello) {
  auto tokens = ca::BootstrapTokens::open(ca_dir);
  if (!tokens) return "";
  auto token = tokens->create(hello.namespace_().empty() ? "default" : hello.namespace_(),
                              hello.service_account().empty() ? "default" : hello.service_account(),
                              0, time(nullptr));
  return token ? *token : "";
}

std::string rootOf(const std::string& ca_dir) {
  auto pem = ca::readFile(ca_dir + "/root-cert.pem");
  return pem ? *pem : "";
}

// A proxy as the data plane will run it: its applied snapshots, and an answer to give.
class FakeProxy {
 public:
  FakeProxy(const std::string& ca_dir, int port, v1::ProxyHello hello) {
    testing::TestProxyOptions options;
    options.address = "127.0.0.1:" + std::to_string(port);
    options.root_pem = rootOf(ca_dir);
    hello.set_credential(credentialFor(ca_dir, hello));
    options.hello = std::move(hello);
    client_ = std::make_unique<testing::TestProxyClient>(
        options,
        [this](std::shared_ptr<const translate::Snapshot> s) -> common::Result<void, std::string> {
          std::lock_guard lock(mu_);
          ++pushes_;
          if (!refuse_.empty()) return common::unexpected(refuse_);
          snapshot_ = std::move(s);
          return common::Ok{};
        },
        [this](const v1::ConfigError& e) {
          std::lock_guard lock(mu_);
          errors_.push_back(e.errors(0));
        });
    client_->start();
  }

  static v1::ProxyHello gateway(const std::string& name) {
    v1::ProxyHello h;
    h.set_name(name);
    h.set_namespace_("istio-system");
    h.set_role("gateway");
    (*h.mutable_labels())["istio"] = "ingressgateway";
    return h;
  }

  void refuse(std::string error) {
    std::lock_guard lock(mu_);
    refuse_ = std::move(error);
  }
  std::shared_ptr<const translate::Snapshot> snapshot() {
    std::lock_guard lock(mu_);
    return snapshot_;
  }
  int pushes() {
    std::lock_guard lock(mu_);
    return pushes_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }
  uint64_t version() { return client_->version(); }
  void stop() { client_->stop(); }
  std::vector<v1::CertificateIssued> certificates() { return client_->certificates(); }
  std::vector<std::string> kinds() { return client_->kinds(); }

  // The prefix of the first route of the first virtual host ("" when there is none).
  std::string firstPrefix() {
    auto s = snapshot();
    if (!s || s->listeners.empty() || s->listeners[0].routes->virtual_hosts.empty()) return "";
    const auto& route = s->listeners[0].routes->virtual_hosts[0].routes.at(0);
    return route.match.uri ? route.match.uri->value : "";
  }

 private:
  std::mutex mu_;
  std::shared_ptr<const translate::Snapshot> snapshot_;
  int pushes_ = 0;
  std::string refuse_;
  std::vector<std::string> errors_;
  std::unique_ptr<testing::TestProxyClient> client_;
};

class ControlPlaneTest : public ::testing::Test {
 protected:
  // backend.internal served by the workloads that register with label app=reviews (no static
  // endpoint any more).
  void useRegisteredBackend() {
    dir_.write("reviews.yaml", R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: ["backend.internal"]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
)");
    dir_.remove("backend.yaml");
  }

  void SetUp() override {
    dir_.write("gateway.yaml", kGateway);
    dir_.write("backend.yaml", kBackend);
    dir_.write("shop.yaml", shopRoute("/v1"));
    startPlane(0, 0ms);
  }

  // A control plane on `port` (0: any) with the test's CA directory.
  void startPlane(int port, std::chrono::milliseconds resync_grace) {
    ControlPlaneOptions options{dir_.path(), "127.0.0.1:" + std::to_string(port), "", 20ms,
                                resync_grace};
    options.ca_dir = ca_dir_.path();
    options.workload_cert_ttl = std::chrono::hours(1);
    plane_ = std::make_unique<ControlPlane>(std::move(options));
    auto started = plane_->start();
    ASSERT_TRUE(started) << started.error().message;
  }

  // A stream of our own, on TLS verified against the CA's root.
  std::unique_ptr<v1::Discovery::Stub> stub() {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = rootOf(ca_dir_.path());
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("istiod.istio-system.svc");
    return v1::Discovery::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(plane_->port()), grpc::SslCredentials(tls), args));
  }

  // `hello` with a credential for its own identity and a CSR.
  v1::ProxyMessage proven(v1::ProxyHello hello) {
    hello.set_credential(credentialFor(ca_dir_.path(), hello));
    hello.set_csr(testing::makeCsr());
    v1::ProxyMessage m;
    *m.mutable_hello() = std::move(hello);
    return m;
  }

  // The status a stream opened with `hello` ends with (it must end without a message).
  grpc::Status refusal(const v1::ProxyMessage& hello) {
    auto s = stub();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    auto stream = s->Stream(&context);
    EXPECT_TRUE(stream->Write(hello));
    v1::ControlMessage in;
    EXPECT_FALSE(stream->Read(&in)) << in.DebugString();
    return stream->Finish();
  }

  v1::ProxyStatus statusOf(const std::string& id) {
    const v1::StatusResponse status = plane_->controller().status();
    for (const auto& p : status.proxies()) {
      if (p.id() == id) return p;
    }
    return {};
  }

  TempDir dir_;
  TempDir ca_dir_;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(ControlPlaneTest, AProxyGetsItsSnapshotAndEveryChange) {
  FakeProxy proxy(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v1"; }));
  auto s = proxy.snapshot();
  ASSERT_EQ(s->listeners.size(), 1u);
  EXPECT_EQ(s->listeners[0].port, 80);
  EXPECT_EQ(s->clusters.at("outbound|80||backend.internal").endpoints.at(0).port, 9001);
  const uint64_t first = proxy.version();

  dir_.write("shop.yaml", shopRoute("/v2"));
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v2"; }));
  EXPECT_GT(proxy.version(), first);
  EXPECT_TRUE(
      waitFor([&] { return statusOf("gw-1.istio-system").acked_version() == proxy.version(); }));
  // The cluster did not change; the delta did not carry it, and the proxy still has it.
  EXPECT_EQ(proxy.snapshot()->clusters.size(), 1u);
}

TEST_F(ControlPlaneTest, AChangeThatDoesNotConcernAProxyIsNotPushedToIt) {
  FakeProxy proxy(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  ASSERT_TRUE(waitFor([&] { return proxy.pushes() == 1; }));
  const uint64_t generation = plane_->controller().status().version();
  // Bound to the mesh, not to this gateway.
  dir_.write("internal.yaml", R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: internal, namespace: default}
spec:
  hosts: ["backend.internal"]
  http:
  - route:
    - destination: {host: backend.internal}
)");
  ASSERT_TRUE(waitFor([&] { return plane_->controller().status().version() > generation; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(proxy.pushes(), 1);
  EXPECT_EQ(statusOf("gw-1.istio-system").pushes(), 1u);
}

TEST_F(ControlPlaneTest, AnInvalidObjectIsQuarantinedWhileAValidChangeInTheSameEditGoesThrough) {
  FakeProxy proxy(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v1"; }));
  // One edit: the shop route changes, and a second route arrives with a negative weight.
  auto edit = [&](const std::string& prefix) {
    dir_.write("shop.yaml", shopRoute(prefix) + "---\n" +
                                "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                                "metadata: {name: broken, namespace: default}\n"
                                "spec:\n  hosts: [\"broken.example.com\"]\n"
                                "  gateways: [\"istio-system/gw\"]\n"
                                "  http:\n  - route:\n"
                                "    - destination: {host: backend.internal}\n"
                                "      weight: -1\n");
  };
  edit("/v3");
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v3"; }));
  EXPECT_EQ(proxy.snapshot()->listeners[0].routes->virtual_hosts.size(), 1u);
  const v1::StatusResponse status = plane_->controller().status();
  ASSERT_EQ(status.quarantined_size(), 1);
  const auto& q = status.quarantined(0);
  EXPECT_EQ(q.name(), "broken");
  EXPECT_FALSE(q.previous_version_serving());
  ASSERT_GE(q.problems_size(), 1);
  EXPECT_EQ(q.problems(0).code(), "IST0106");
  EXPECT_EQ(q.problems(0).file(), dir_.file("shop.yaml"));
  EXPECT_EQ(q.problems(0).line(), 22);
  // Later changes keep flowing while it stays quarantined.
  edit("/v4");
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v4"; }));
  EXPECT_EQ(plane_->controller().status().quarantined_size(), 1);
}

TEST_F(ControlPlaneTest, ANackLeavesThePreviousSnapshotAndShowsInStatus) {
  FakeProxy proxy(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v1"; }));
  const uint64_t served = proxy.version();
  proxy.refuse("port 80 is in use");
  dir_.write("shop.yaml", shopRoute("/v4"));
  ASSERT_TRUE(waitFor([&] { return statusOf("gw-1.istio-system").last_response() == "NACK"; }));
  const v1::ProxyStatus s = statusOf("gw-1.istio-system");
  EXPECT_EQ(s.last_error(), "port 80 is in use");
  EXPECT_EQ(s.acked_version(), served);
  EXPECT_GT(s.last_response_version(), served);
  EXPECT_EQ(proxy.firstPrefix(), "/v1");
  // proxy-config shows what it serves: the ACKed version.
  auto config = plane_->controller().proxyConfig("gw-1.istio-system");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->version(), served);
  // The next change is pushed whole and accepted.
  proxy.refuse("");
  dir_.write("shop.yaml", shopRoute("/v5"));
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v5"; }));
  EXPECT_TRUE(waitFor([&] { return statusOf("gw-1.istio-system").last_response() == "ACK"; }));
}

// "address:port" of every endpoint of the proxy's backend.internal cluster; "none" before the
// proxy has the cluster.
std::string backendEndpoints(FakeProxy& proxy) {
  auto s = proxy.snapshot();
  if (!s) return "none";
  auto it = s->clusters.find("outbound|80||backend.internal");
  if (it == s->clusters.end()) return "none";
  std::string out;
  for (const auto& e : it->second.endpoints) {
    out += (out.empty() ? "" : ",") + e.address + ":" + std::to_string(e.port);
  }
  return out;
}

v1::ProxyHello sidecarHello(const std::string& name, const std::string& app, uint32_t app_port) {
  v1::ProxyHello hello;
  hello.set_name(name);
  hello.set_namespace_("default");
  hello.set_role("sidecar");
  hello.set_service_account(app);
  (*hello.mutable_labels())["app"] = app;
  auto* port = hello.add_ports();
  port->set_name("http");
  port->set_number(app_port);
  return hello;
}

TEST_F(ControlPlaneTest, ASidecarIsServedAndTheMeshReachesItsWorkloadThroughItsInboundPort) {
  useRegisteredBackend();
  FakeProxy gateway(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  // Once the edit above is applied, the service has no endpoint: nobody registered yet.
  ASSERT_TRUE(waitFor([&] { return backendEndpoints(gateway).empty(); }));
  // A sidecar that does not register (no address) but calls the service.
  FakeProxy caller(ca_dir_.path(), plane_->port(),
                   sidecarHello("productpage-1", "productpage", 9081));
  ASSERT_TRUE(waitFor([&] { return backendEndpoints(caller).empty(); }));

  v1::ProxyHello hello = sidecarHello("reviews-1", "reviews", 9080);
  hello.set_address("10.9.9.9");
  hello.set_inbound_port(15123);
  {
    FakeProxy sidecar(ca_dir_.path(), plane_->port(), hello);
    // Its registration updates everyone's endpoints: they point to its inbound listener.
    EXPECT_TRUE(waitFor([&] { return backendEndpoints(gateway) == "10.9.9.9:15123"; }))
        << backendEndpoints(gateway);
    EXPECT_TRUE(waitFor([&] { return backendEndpoints(caller) == "10.9.9.9:15123"; }))
        << backendEndpoints(caller);
    ASSERT_TRUE(waitFor([&] { return sidecar.snapshot() != nullptr; }));
    std::map<std::string, const translate::Listener*> listeners;
    auto s = sidecar.snapshot();
    for (const auto& l : s->listeners) listeners[l.name] = &l;
    ASSERT_TRUE(listeners.count("virtualInbound"));
    EXPECT_EQ(listeners["virtualInbound"]->kind, translate::ListenerKind::kInbound);
    EXPECT_EQ(listeners["virtualInbound"]->bind_address, "10.9.9.9");
    EXPECT_EQ(listeners["virtualInbound"]->port, 15123);
    ASSERT_TRUE(listeners.count("virtualOutbound"));
    EXPECT_EQ(listeners["virtualOutbound"]->kind, translate::ListenerKind::kOutboundProxy);
    EXPECT_EQ(listeners["virtualOutbound"]->port, 15001);  // the default
    ASSERT_TRUE(listeners.count("0.0.0.0_80"));
    EXPECT_EQ(listeners["0.0.0.0_80"]->kind, translate::ListenerKind::kOutboundPort);
    EXPECT_TRUE(sidecar.errors().empty());
    EXPECT_TRUE(waitFor([&] { return statusOf("reviews-1.default").last_response() == "ACK"; }));
    EXPECT_EQ(statusOf("reviews-1.default").last_error(), "");
  }
  // Its stream ended: the workload leaves the registry.
  EXPECT_TRUE(waitFor([&] { return backendEndpoints(gateway).empty(); }));
  EXPECT_TRUE(waitFor([&] { return backendEndpoints(caller).empty(); }));
}

// The inbound cluster of a sidecar and the workload it names ("none" without one).
std::string inboundCluster(FakeProxy& proxy) {
  auto s = proxy.snapshot();
  if (!s) return "none";
  for (const auto& [name, c] : s->clusters) {
    if (name.starts_with("inbound|")) return name + " " + c.endpoints.at(0).workload;
  }
  return "none";
}

// The URI prefixes of the routes a sidecar has for backend.internal:80.
std::vector<std::string> backendPrefixes(FakeProxy& proxy) {
  std::vector<std::string> out;
  auto s = proxy.snapshot();
  if (!s) return out;
  for (const auto& l : s->listeners) {
    if (l.name != "0.0.0.0_80") continue;
    for (const auto& v : l.routes->virtual_hosts) {
      if (v.name != "backend.internal:80") continue;
      for (const auto& r : v.routes) out.push_back(r.match.uri ? r.match.uri->value : "*");
    }
  }
  return out;
}

TEST_F(ControlPlaneTest, SidecarsShareOneOutboundTranslationButHaveTheirOwnInboundListeners) {
  FakeProxy reviews(ca_dir_.path(), plane_->port(), sidecarHello("reviews-1", "reviews", 9080));
  FakeProxy ratings(ca_dir_.path(), plane_->port(), sidecarHello("ratings-1", "ratings", 9081));
  ASSERT_TRUE(waitFor([&] { return reviews.snapshot() && ratings.snapshot(); }));
  EXPECT_EQ(inboundCluster(reviews), "inbound|9080|| reviews-1");
  EXPECT_EQ(inboundCluster(ratings), "inbound|9081|| ratings-1");
  EXPECT_EQ(backendEndpoints(reviews), "127.0.0.1:9001");

  // An edit both see is translated once for both.
  const uint64_t translations = plane_->controller().sidecarOutboundTranslations();
  const uint64_t reviews_version = reviews.version(), ratings_version = ratings.version();
  std::string backend = kBackend;
  backend.replace(backend.find("9001"), 4, "9002");
  dir_.write("backend.yaml", backend);
  ASSERT_TRUE(waitFor(
      [&] { return reviews.version() > reviews_version && ratings.version() > ratings_version; }));
  EXPECT_EQ(backendEndpoints(reviews), "127.0.0.1:9002");
  EXPECT_EQ(backendEndpoints(ratings), "127.0.0.1:9002");
  EXPECT_EQ(inboundCluster(ratings), "inbound|9081|| ratings-1");
  EXPECT_EQ(plane_->controller().sidecarOutboundTranslations() - translations, 1u);
}

TEST_F(ControlPlaneTest, SourceLabelsGiveSidecarsTheirOwnRoutes) {
  dir_.write("canary.yaml", R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.internal]
  http:
  - match: [{sourceLabels: {version: v2}, uri: {prefix: /canary}}]
    route: [{destination: {host: backend.internal}}]
  - route: [{destination: {host: backend.internal}}]
)");
  v1::ProxyHello v1_hello = sidecarHello("reviews-v1", "reviews", 9080);
  (*v1_hello.mutable_labels())["version"] = "v1";
  v1::ProxyHello v2_hello = sidecarHello("reviews-v2", "reviews", 9081);
  (*v2_hello.mutable_labels())["version"] = "v2";
  FakeProxy v1_sidecar(ca_dir_.path(), plane_->port(), v1_hello);
  FakeProxy v2_sidecar(ca_dir_.path(), plane_->port(), v2_hello);
  EXPECT_TRUE(waitFor([&] {
    return backendPrefixes(v2_sidecar) == std::vector<std::string>{"/canary", "*"};
  }));
  EXPECT_TRUE(waitFor([&] { return backendPrefixes(v1_sidecar) == std::vector<std::string>{"*"}; }))
      << backendPrefixes(v1_sidecar).size();
}

TEST_F(ControlPlaneTest, AfterARestartResumedProxiesWaitForTheSidecarsToRegisterAgain) {
  useRegisteredBackend();
  FakeProxy gateway(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  v1::ProxyHello hello = sidecarHello("reviews-1", "reviews", 9080);
  hello.set_address("10.9.9.9");
  hello.set_inbound_port(15123);
  FakeProxy sidecar(ca_dir_.path(), plane_->port(), hello);
  ASSERT_TRUE(waitFor([&] { return backendEndpoints(gateway) == "10.9.9.9:15123"; }));

  // A restart with an edit made while the control plane was down. A new control plane knows no
  // registered workload until the sidecar is back; the gateway keeps its endpoint all along.
  const int port = plane_->port();
  plane_.reset();
  dir_.write("shop.yaml", shopRoute("/after-restart"));
  const auto started = std::chrono::steady_clock::now();
  startPlane(port, 2000ms);
  // A proxy with nothing to resume is served at once, grace or not: while the resumed gateway
  // is still held. (Ordered, not timed against a bound: a loaded machine takes its time.)
  FakeProxy fresh(ca_dir_.path(), port, FakeProxy::gateway("gw-2"));
  ASSERT_TRUE(waitFor([&] { return fresh.firstPrefix() == "/after-restart"; }));
  if (std::chrono::steady_clock::now() - started < 1800ms) {
    EXPECT_NE(gateway.firstPrefix(), "/after-restart");
  }
  ASSERT_TRUE(waitFor([&] {
    EXPECT_EQ(backendEndpoints(gateway), "10.9.9.9:15123");
    return gateway.firstPrefix() == "/after-restart";
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1900ms);  // held for the grace
  EXPECT_EQ(backendEndpoints(gateway), "10.9.9.9:15123");
}

TEST_F(ControlPlaneTest, ASidecarWhosePortsClashIsRefused) {
  const grpc::Status status = refusal(proven(sidecarHello("reviews-1", "reviews", 15006)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "port http 15006 is also the sidecar's inbound_port");
}

TEST_F(ControlPlaneTest, VersionsContinueAboveWhatAReconnectingProxyServed) {
  auto s = stub();
  grpc::ClientContext context;
  auto stream = s->Stream(&context);
  v1::ProxyMessage hello = proven(FakeProxy::gateway("gw-old"));
  hello.mutable_hello()->set_last_version(500);
  ASSERT_TRUE(stream->Write(hello));
  v1::ControlMessage in;
  ASSERT_TRUE(stream->Read(&in));
  ASSERT_TRUE(in.has_certificate());
  ASSERT_TRUE(stream->Read(&in));
  ASSERT_TRUE(in.has_push());
  EXPECT_GT(in.push().version(), 500u);
  EXPECT_EQ(in.push().base_version(), 0u);
  context.TryCancel();
}

TEST_F(ControlPlaneTest, AProxyFollowsARestartedControlPlaneWithVersionsAboveItsOwn) {
  FakeProxy proxy(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/v1"; }));
  // Move the served version well above where a fresh control plane starts.
  for (const char* prefix : {"/a", "/b", "/c", "/d"}) {
    dir_.write("shop.yaml", shopRoute(prefix));
    ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == prefix; }));
  }
  const uint64_t served = proxy.version();
  const int port = plane_->port();
  plane_.reset();
  dir_.write("shop.yaml", shopRoute("/after-restart"));
  startPlane(port, 0ms);
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/after-restart"; }));
  EXPECT_GT(proxy.version(), served);
}

TEST_F(ControlPlaneTest, ABadHelloIsRefused) {
  v1::ProxyMessage hello = proven(FakeProxy::gateway("gw"));
  hello.mutable_hello()->set_role("router");
  const grpc::Status status = refusal(hello);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("unknown role \"router\""), std::string::npos);
}

TEST_F(ControlPlaneTest, ProxyConfigFindsProxiesByTheirNames) {
  FakeProxy a(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-a"));
  ASSERT_TRUE(waitFor([&] { return a.pushes() == 1; }));
  // proxy-config shows what the proxy ACKed: the ACK follows the push on its own.
  ASSERT_TRUE(waitFor([&] {
    auto r = plane_->controller().proxyConfig("gw-a.istio-system");
    return r && r->resources().listeners_size() > 0;
  }));
  auto byId = plane_->controller().proxyConfig("gw-a.istio-system");
  ASSERT_TRUE(byId);
  EXPECT_EQ(byId->resources().listeners_size(), 1);
  EXPECT_TRUE(plane_->controller().proxyConfig("istio-system/gw-a"));
  EXPECT_TRUE(plane_->controller().proxyConfig("gw-a"));
  auto missing = plane_->controller().proxyConfig("gw-z");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, common::ErrorKind::kNotFound);
}

TEST_F(ControlPlaneTest, TheWorkloadCertificateComesBeforeTheFirstPush) {
  FakeProxy proxy(ca_dir_.path(), plane_->port(), FakeProxy::gateway("gw-1"));
  ASSERT_TRUE(waitFor([&] { return proxy.pushes() == 1; }));
  const std::vector<std::string> kinds = proxy.kinds();
  ASSERT_GE(kinds.size(), 2u);
  EXPECT_EQ(kinds[0], "certificate");
  EXPECT_EQ(kinds[1], "push");
  const v1::CertificateIssued cert = proxy.certificates().at(0);
  EXPECT_EQ(cert.spiffe_id(), "spiffe://cluster.local/ns/istio-system/sa/default");
  EXPECT_EQ(cert.root_certificates(), plane_->certificateAuthority().rootCertificatesPem());
  EXPECT_EQ(testing::verifyChain(cert.certificate_chain(), cert.root_certificates()), "");
  auto facts = ca::describeCertificate(cert.certificate_chain());
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->uri_sans, std::vector<std::string>{cert.spiffe_id()});
  EXPECT_NEAR(facts->not_after - time(nullptr), 3600, 5);  // the configured lifetime

  const v1::ProxyStatus s = statusOf("gw-1.istio-system");
  EXPECT_EQ(s.spiffe_id(), cert.spiffe_id());
  EXPECT_EQ(s.certificate_serial(), facts->serial_hex);
  EXPECT_EQ(s.certificate_not_before(), facts->not_before);
  EXPECT_EQ(s.certificate_not_after(), facts->not_after);
  EXPECT_EQ(s.certificates_issued(), 1u);
  auto config = plane_->controller().proxyConfig("gw-1.istio-system");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->certificate_chain(), cert.certificate_chain());
  EXPECT_EQ(config->root_certificates(), cert.root_certificates());
}

TEST_F(ControlPlaneTest, AHelloIsRefusedUnlessItsCredentialProvesItsIdentity) {
  v1::ProxyMessage hello = proven(FakeProxy::gateway("gw"));
  hello.mutable_hello()->clear_credential();
  grpc::Status status = refusal(hello);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(),
            "no credential: start the proxy with --token-file FILE holding the output of "
            "`halyard token create --namespace istio-system --service-account default`");

  hello.mutable_hello()->set_credential(
      *ca::BootstrapTokens(std::string(32, 'x')).create("istio-system", "default", 0, 0));
  status = refusal(hello);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(),
            "credential: bad signature: it was not made with this control plane's token-key");

  auto tokens = ca::BootstrapTokens::open(ca_dir_.path());
  ASSERT_TRUE(tokens);
  hello.mutable_hello()->set_credential(
      *tokens->create("istio-system", "default", 60, time(nullptr) - 120));
  status = refusal(hello);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(status.error_message().starts_with("credential: expired at "))
      << status.error_message();

  hello.mutable_hello()->set_credential(*tokens->create("istio-system", "admin", 0, time(nullptr)));
  status = refusal(hello);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "the credential is for istio-system/admin, the hello says istio-system/default");
  EXPECT_EQ(plane_->controller().status().proxies_size(), 0);
}

TEST_F(ControlPlaneTest, AHelloNeedsASignableCsr) {
  v1::ProxyMessage hello = proven(FakeProxy::gateway("gw"));
  hello.mutable_hello()->clear_csr();
  grpc::Status status = refusal(hello);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(status.error_message().starts_with("the hello has no csr")) << status.error_message();

  testing::PkeyPtr weak = testing::rsaKey(1024);
  hello.mutable_hello()->set_csr(testing::makeCsr(weak.get()));
  status = refusal(hello);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "csr: the CSR's key is RSA 1024-bit: expected ECDSA P-256 or P-384, or RSA of 2048 "
            "bits or more");
}

TEST_F(ControlPlaneTest, ACertificateRequestOnTheStreamGetsANewCertificate) {
  auto s = stub();
  grpc::ClientContext context;
  auto stream = s->Stream(&context);
  ASSERT_TRUE(stream->Write(proven(FakeProxy::gateway("gw-1"))));
  v1::ControlMessage first, push;
  ASSERT_TRUE(stream->Read(&first));
  ASSERT_TRUE(first.has_certificate());
  ASSERT_TRUE(stream->Read(&push));
  ASSERT_TRUE(push.has_push());
  std::this_thread::sleep_for(150ms);  // renewals closer together are refused

  // A request asking for another identity gets the proven one, with a new serial.
  v1::ProxyMessage request;
  request.mutable_certificate_request()->set_csr(
      testing::makeCsr("admin", "URI:spiffe://cluster.local/ns/kube-system/sa/admin"));
  ASSERT_TRUE(stream->Write(request));
  v1::ControlMessage second;
  ASSERT_TRUE(stream->Read(&second));
  ASSERT_TRUE(second.has_certificate()) << second.DebugString();
  EXPECT_EQ(second.certificate().spiffe_id(), first.certificate().spiffe_id());
  auto a = ca::describeCertificate(first.certificate().certificate_chain());
  auto b = ca::describeCertificate(second.certificate().certificate_chain());
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->serial_hex, b->serial_hex);
  EXPECT_EQ(b->uri_sans, std::vector<std::string>{first.certificate().spiffe_id()});
  EXPECT_TRUE(waitFor([&] { return statusOf("gw-1.istio-system").certificates_issued() == 2; }));
  EXPECT_EQ(statusOf("gw-1.istio-system").certificate_serial(), b->serial_hex);

  // One that cannot be signed gets a CertificateError; the stream stays open.
  std::this_thread::sleep_for(150ms);
  request.mutable_certificate_request()->set_csr("garbage");
  ASSERT_TRUE(stream->Write(request));
  v1::ControlMessage error;
  ASSERT_TRUE(stream->Read(&error));
  ASSERT_TRUE(error.has_certificate_error());
  EXPECT_EQ(error.certificate_error().error(),
            "csr: the CSR is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");
  EXPECT_EQ(statusOf("gw-1.istio-system").certificate_serial(), b->serial_hex);
  context.TryCancel();
}

}  // namespace
}  // namespace halyard::control
