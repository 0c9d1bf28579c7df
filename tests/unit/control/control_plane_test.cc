// The control plane in-process, over real gRPC, with the proxy's own stream client
// (wire::ControlClient): first snapshot, pushes after file edits, no push for changes that do
// not concern a proxy, quarantine, NACKs, sidecars and their self-registered workloads (reached
// through their inbound ports), sidecars sharing one outbound translation unless sourceLabels
// set them apart, and versions above a reconnecting proxy's.
#include "control/control_plane.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <mutex>

#include "control_test_util.h"
#include "halyard/v1/discovery.grpc.pb.h"
#include "wire/control_client.h"

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

// A proxy as the data plane will run it: its applied snapshots, and an answer to give.
class FakeProxy {
 public:
  FakeProxy(int port, v1::ProxyHello hello) {
    wire::ControlClientOptions options;
    options.address = "127.0.0.1:" + std::to_string(port);
    options.hello = std::move(hello);
    options.retry_delay = 50ms;
    client_ = std::make_unique<wire::ControlClient>(
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
  std::unique_ptr<wire::ControlClient> client_;
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
    plane_ = std::make_unique<ControlPlane>(
        ControlPlaneOptions{dir_.path(), "127.0.0.1:0", "", 20ms, 0ms});
    ASSERT_TRUE(plane_->start());
  }

  v1::ProxyStatus statusOf(const std::string& id) {
    const v1::StatusResponse status = plane_->controller().status();
    for (const auto& p : status.proxies()) {
      if (p.id() == id) return p;
    }
    return {};
  }

  TempDir dir_;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(ControlPlaneTest, AProxyGetsItsSnapshotAndEveryChange) {
  FakeProxy proxy(plane_->port(), FakeProxy::gateway("gw-1"));
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
  FakeProxy proxy(plane_->port(), FakeProxy::gateway("gw-1"));
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
  FakeProxy proxy(plane_->port(), FakeProxy::gateway("gw-1"));
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
  FakeProxy proxy(plane_->port(), FakeProxy::gateway("gw-1"));
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
  FakeProxy gateway(plane_->port(), FakeProxy::gateway("gw-1"));
  // Once the edit above is applied, the service has no endpoint: nobody registered yet.
  ASSERT_TRUE(waitFor([&] { return backendEndpoints(gateway).empty(); }));
  // A sidecar that does not register (no address) but calls the service.
  FakeProxy caller(plane_->port(), sidecarHello("productpage-1", "productpage", 9081));
  ASSERT_TRUE(waitFor([&] { return backendEndpoints(caller).empty(); }));

  v1::ProxyHello hello = sidecarHello("reviews-1", "reviews", 9080);
  hello.set_address("10.9.9.9");
  hello.set_inbound_port(15123);
  {
    FakeProxy sidecar(plane_->port(), hello);
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
  FakeProxy reviews(plane_->port(), sidecarHello("reviews-1", "reviews", 9080));
  FakeProxy ratings(plane_->port(), sidecarHello("ratings-1", "ratings", 9081));
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
  FakeProxy v1_sidecar(plane_->port(), v1_hello);
  FakeProxy v2_sidecar(plane_->port(), v2_hello);
  EXPECT_TRUE(waitFor([&] {
    return backendPrefixes(v2_sidecar) == std::vector<std::string>{"/canary", "*"};
  }));
  EXPECT_TRUE(waitFor([&] { return backendPrefixes(v1_sidecar) == std::vector<std::string>{"*"}; }))
      << backendPrefixes(v1_sidecar).size();
}

TEST_F(ControlPlaneTest, AfterARestartResumedProxiesWaitForTheSidecarsToRegisterAgain) {
  useRegisteredBackend();
  FakeProxy gateway(plane_->port(), FakeProxy::gateway("gw-1"));
  v1::ProxyHello hello = sidecarHello("reviews-1", "reviews", 9080);
  hello.set_address("10.9.9.9");
  hello.set_inbound_port(15123);
  FakeProxy sidecar(plane_->port(), hello);
  ASSERT_TRUE(waitFor([&] { return backendEndpoints(gateway) == "10.9.9.9:15123"; }));

  // A restart with an edit made while the control plane was down. A new control plane knows no
  // registered workload until the sidecar is back; the gateway keeps its endpoint all along.
  const int port = plane_->port();
  plane_.reset();
  dir_.write("shop.yaml", shopRoute("/after-restart"));
  plane_ = std::make_unique<ControlPlane>(
      ControlPlaneOptions{dir_.path(), "127.0.0.1:" + std::to_string(port), "", 20ms, 800ms});
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(plane_->start());
  // A proxy with nothing to resume is served at once, grace or not.
  FakeProxy fresh(port, FakeProxy::gateway("gw-2"));
  ASSERT_TRUE(waitFor([&] { return fresh.firstPrefix() == "/after-restart"; }));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 700ms);
  ASSERT_TRUE(waitFor([&] {
    EXPECT_EQ(backendEndpoints(gateway), "10.9.9.9:15123");
    return gateway.firstPrefix() == "/after-restart";
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 700ms);  // held for the grace
  EXPECT_EQ(backendEndpoints(gateway), "10.9.9.9:15123");
}

TEST_F(ControlPlaneTest, ASidecarWhosePortsClashIsRefused) {
  auto stub = v1::Discovery::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(plane_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Stream(&context);
  v1::ProxyMessage hello;
  *hello.mutable_hello() = sidecarHello("reviews-1", "reviews", 15006);
  ASSERT_TRUE(stream->Write(hello));
  v1::ControlMessage in;
  EXPECT_FALSE(stream->Read(&in));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "port http 15006 is also the sidecar's inbound_port");
}

TEST_F(ControlPlaneTest, VersionsContinueAboveWhatAReconnectingProxyServed) {
  auto stub = v1::Discovery::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(plane_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Stream(&context);
  v1::ProxyMessage hello;
  *hello.mutable_hello() = FakeProxy::gateway("gw-old");
  hello.mutable_hello()->set_last_version(500);
  ASSERT_TRUE(stream->Write(hello));
  v1::ControlMessage in;
  ASSERT_TRUE(stream->Read(&in));
  ASSERT_TRUE(in.has_push());
  EXPECT_GT(in.push().version(), 500u);
  EXPECT_EQ(in.push().base_version(), 0u);
  context.TryCancel();
}

TEST_F(ControlPlaneTest, AProxyFollowsARestartedControlPlaneWithVersionsAboveItsOwn) {
  FakeProxy proxy(plane_->port(), FakeProxy::gateway("gw-1"));
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
  plane_ = std::make_unique<ControlPlane>(
      ControlPlaneOptions{dir_.path(), "127.0.0.1:" + std::to_string(port), "", 20ms, 0ms});
  ASSERT_TRUE(plane_->start());
  ASSERT_TRUE(waitFor([&] { return proxy.firstPrefix() == "/after-restart"; }));
  EXPECT_GT(proxy.version(), served);
}

TEST_F(ControlPlaneTest, ABadHelloIsRefused) {
  auto stub = v1::Discovery::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(plane_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Stream(&context);
  v1::ProxyMessage hello;
  *hello.mutable_hello() = FakeProxy::gateway("gw");
  hello.mutable_hello()->set_role("router");
  ASSERT_TRUE(stream->Write(hello));
  v1::ControlMessage in;
  EXPECT_FALSE(stream->Read(&in));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("unknown role \"router\""), std::string::npos);
}

TEST_F(ControlPlaneTest, ProxyConfigFindsProxiesByTheirNames) {
  FakeProxy a(plane_->port(), FakeProxy::gateway("gw-a"));
  ASSERT_TRUE(waitFor([&] { return a.pushes() == 1; }));
  auto byId = plane_->controller().proxyConfig("gw-a.istio-system");
  ASSERT_TRUE(byId);
  EXPECT_EQ(byId->resources().listeners_size(), 1);
  EXPECT_TRUE(plane_->controller().proxyConfig("istio-system/gw-a"));
  EXPECT_TRUE(plane_->controller().proxyConfig("gw-a"));
  auto missing = plane_->controller().proxyConfig("gw-z");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, common::ErrorKind::kNotFound);
}

}  // namespace
}  // namespace halyard::control
