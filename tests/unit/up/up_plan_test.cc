#include "up/up_plan.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace halyard::up {
namespace {

namespace fs = std::filesystem;

const char* kGateway = R"(apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: shop-svc, port: {number: 80}}}]
---
apiVersion: v1
kind: Service
metadata: {name: shop-svc}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80, targetPort: 9000}]
)";

std::string workload(const std::string& command, int port,
                     const std::string& labels = "app: shop") {
  return "apiVersion: halyard.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: shop\n  labels: {" +
         labels + "}\nspec:\n  service: shop-svc\n  port: " + std::to_string(port) +
         "\n  command: [" + command + ", --serve]\n";
}

class UpPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("halyard-up-plan-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "mesh");
    write("mesh/gateway.yaml", kGateway);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  UpOptions options() {
    UpOptions o;
    o.dir = (dir_ / "mesh").string();
    o.base_port = 0;
    o.port_maps = {"80=" + std::to_string(freePort())};
    o.log_dir = (dir_ / "logs").string();
    o.halyard_binary = "/bin/true";
    o.proxy_binary = "/bin/true";
    return o;
  }
  static uint16_t freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }
  std::string joined(const std::vector<std::string>& problems) {
    std::string out;
    for (const auto& p : problems) out += p + "\n";
    return out;
  }

  fs::path dir_;
};

TEST_F(UpPlanTest, PlansTheControlPlaneGatewayAndWorkloads) {
  const uint16_t app_port = freePort();
  write("mesh/workloads.yaml", workload("sh", app_port));
  UpOptions o = options();
  auto plan = makePlan(o);
  ASSERT_TRUE(plan.ok()) << joined(plan.error());
  EXPECT_EQ(plan->dir, (dir_ / "mesh").string());
  ASSERT_EQ(plan->gateways.size(), 1u);
  EXPECT_EQ(plan->gateways[0].name, "istio-ingressgateway");
  EXPECT_EQ(plan->gateways[0].labels.at("istio"), "ingressgateway");
  ASSERT_EQ(plan->gateways[0].port_map.size(), 1u);
  EXPECT_EQ(plan->gateways[0].port_map[0].first, 80);
  ASSERT_EQ(plan->workloads.size(), 1u);
  const WorkloadPlan& w = plan->workloads[0];
  EXPECT_EQ(w.program, "/usr/bin/sh");
  EXPECT_EQ(w.workload.port, app_port);
  std::set<uint16_t> ports{plan->control_port,
                           plan->control_admin_port,
                           plan->gateways[0].admin_port,
                           w.inbound_port,
                           w.outbound_port,
                           w.admin_port,
                           app_port,
                           plan->gateways[0].port_map[0].second};
  EXPECT_EQ(ports.size(), 8u);  // all distinct
  ASSERT_EQ(plan->tries.size(), 1u);
  EXPECT_EQ(plan->tries[0].host, "shop.example.com");
  EXPECT_EQ(plan->tries[0].path, "/api");
  EXPECT_EQ(plan->tries[0].destinations, "shop-svc");
  EXPECT_TRUE(fs::is_directory(dir_ / "logs"));
}

// The classic canary: two Workloads of one Service with version labels, subsets for them and a
// VirtualService bound to the mesh and the gateway. The directory is analyzed clean (the
// Workloads are its pods) and the hint names the gateway's host and the subsets.
TEST_F(UpPlanTest, TheCanaryOfTwoWorkloadsIsPlannedWithItsSubsets) {
  write("mesh/gateway.yaml", R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*.example.com"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop-svc, shop.example.com]
  gateways: [mesh, gw]
  http:
  - route:
    - {destination: {host: shop-svc, subset: v1}, weight: 90}
    - {destination: {host: shop-svc, subset: v2}, weight: 10}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop}
spec:
  host: shop-svc
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: v1
kind: Service
metadata: {name: shop-svc}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80, targetPort: 9000}]
)");
  std::string v2 = workload("sh", freePort(), "app: shop, version: v2");
  v2.replace(v2.find("name: shop"), 10, "name: shop-v2");
  write("mesh/workloads.yaml", workload("sh", freePort(), "app: shop, version: v1") + "---\n" + v2);
  auto plan = makePlan(options());
  ASSERT_TRUE(plan.ok()) << joined(plan.error());
  EXPECT_EQ(plan->workloads.size(), 2u);
  ASSERT_EQ(plan->tries.size(), 1u);
  EXPECT_EQ(plan->tries[0].host, "shop.example.com");
  EXPECT_EQ(plan->tries[0].destinations, "shop-svc (subset v1) 90%, shop-svc (subset v2) 10%");
}

TEST_F(UpPlanTest, EveryProblemIsReportedBeforeAnythingStarts) {
  // A port in use, a command that does not exist, a Service that does not select the workload,
  // an analysis error and a bad --port-map, all in one run.
  int busy = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(busy, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(busy, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(busy, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  write("mesh/workloads.yaml", workload("no-such-program-halyard", port, "app: other"));
  write("mesh/broken.yaml", R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: broken}
spec:
  hosts: [shop.example.com]
  gateways: [missing-gateway]
  http: [{route: [{destination: {host: shop-svc}}]}]
)");
  UpOptions o = options();
  o.port_maps.push_back("80:8080");
  auto plan = makePlan(o);
  ASSERT_FALSE(plan.ok());
  const std::string all = joined(plan.error());
  const std::string wl = (dir_ / "mesh" / "workloads.yaml").string();
  EXPECT_NE(all.find("broken.yaml:6 (VirtualService default/broken): [IST0101] Referenced "
                     "gateway not found: \"missing-gateway\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(wl + ":7: spec.service: Service shop-svc (" +
                     (dir_ / "mesh" / "gateway.yaml").string() +
                     ":18) selects {app=shop}, which does not match the labels {app=other}"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(wl + ":9: spec.command[0]: \"no-such-program-halyard\" is not found on PATH"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("port " + std::to_string(port) + " of workload shop (" + wl + ":8) is in use"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("--port-map \"80:8080\": expected GATEWAY_PORT=LOCAL_PORT"), std::string::npos)
      << all;
  EXPECT_FALSE(fs::exists(dir_ / "logs"));  // nothing was made
  ::close(busy);
}

TEST_F(UpPlanTest, GatewayPortInUseAndMissingService) {
  write("mesh/workloads.yaml", workload("/bin/sh", freePort()));
  std::ofstream(dir_ / "mesh" / "workloads.yaml", std::ios::app)
      << "---\napiVersion: halyard.dev/v1alpha1\nkind: Workload\nmetadata: {name: lone}\n"
         "spec: {service: nope, port: 1, command: [./missing.sh]}\n";
  int busy = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ASSERT_EQ(::bind(busy, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(busy, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(busy, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  UpOptions o = options();
  o.port_maps = {"80=" + port};
  auto plan = makePlan(o);
  ASSERT_FALSE(plan.ok());
  const std::string all = joined(plan.error());
  EXPECT_NE(all.find("port " + port +
                     " (Gateway port 80 of istio-ingressgateway) is in use: stop "
                     "what listens there or pick another with --port-map 80=PORT"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("spec.service: no Service \"nope\" in namespace default"), std::string::npos)
      << all;
  EXPECT_NE(all.find("spec.command[0]: \"" + (dir_ / "mesh" / "missing.sh").string() +
                     "\" does not exist"),
            std::string::npos)
      << all;
  ::close(busy);
}

TEST_F(UpPlanTest, LogDirectoryInsideTheWatchedDirectoryIsRefused) {
  write("mesh/workloads.yaml", workload("sh", freePort()));
  UpOptions o = options();
  o.log_dir = (dir_ / "mesh" / "logs").string();
  auto plan = makePlan(o);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(joined(plan.error()).find("is inside the watched config directory"), std::string::npos);
}

}  // namespace
}  // namespace halyard::up
