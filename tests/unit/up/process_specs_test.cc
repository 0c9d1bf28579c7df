#include "up/process_specs.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace halyard::up {
namespace {

UpPlan plan() {
  UpPlan p;
  p.dir = "/mesh";
  p.log_dir = "/logs";
  p.halyard_binary = "/bin/halyard";
  p.proxy_binary = "/bin/halyard-proxy";
  p.control_port = 15010;
  p.control_admin_port = 15011;
  GatewayPlan gw;
  gw.name = "istio-ingressgateway";
  gw.labels = {{"istio", "ingressgateway"}};
  gw.port_map = {{80, 8080}};
  gw.admin_port = 15000;
  p.gateways.push_back(gw);
  p.ca_dir = "/logs/ca";
  p.workload_cert_ttl = "24h";
  WorkloadPlan wp;
  wp.workload.name = "items-api";
  wp.workload.service_account = "items";
  wp.workload.labels = {{"app", "items-api"}, {"version", "v1"}};
  wp.workload.port = 9081;
  wp.workload.working_dir = "/mesh";
  wp.workload.command = {"python3", "app.py", "--port", "$(PORT)", "$(NOPE)"};
  wp.workload.env = {{"HTTP_PROXY", "http://elsewhere"}, {"URL", "http://x:$(PORT)/"}};
  wp.program = "/usr/bin/python3";
  wp.inbound_port = 15100;
  wp.outbound_port = 15101;
  wp.admin_port = 15102;
  p.workloads.push_back(wp);
  return p;
}

bool has(const std::vector<std::string>& env, const std::string& kv) {
  return std::find(env.begin(), env.end(), kv) != env.end();
}

TEST(ProcessSpecsTest, ControlPlaneGatewaySidecarAndApp) {
  char path[] = "PATH=/usr/bin";
  char port[] = "PORT=1";  // replaced for the app
  char* environ_like[] = {path, port, nullptr};
  auto specs = processSpecs(plan(), environ_like);
  ASSERT_EQ(specs.size(), 4u);

  EXPECT_EQ(specs[0].role, Role::kControl);
  EXPECT_EQ(specs[0].argv, (std::vector<std::string>{
                               "/bin/halyard", "control", "--config", "/mesh", "--listen",
                               "127.0.0.1:15010", "--admin", "127.0.0.1:15011", "--ca-dir",
                               "/logs/ca", "--workload-cert-ttl", "24h", "--trace-collector"}));
  EXPECT_EQ(specs[0].ready_port, 15011);
  EXPECT_EQ(specs[0].log_path, "/logs/control-plane.log");

  EXPECT_EQ(specs[1].argv, (std::vector<std::string>{"/bin/halyard-proxy",
                                                     "--control",
                                                     "127.0.0.1:15010",
                                                     "--role",
                                                     "gateway",
                                                     "--name",
                                                     "istio-ingressgateway",
                                                     "--namespace",
                                                     "istio-system",
                                                     "--service-account",
                                                     "istio-ingressgateway-service-account",
                                                     "--labels",
                                                     "istio=ingressgateway",
                                                     "--port-map",
                                                     "80=8080",
                                                     "--admin",
                                                     "127.0.0.1:15000",
                                                     "--token-file",
                                                     "/logs/credentials/istio-ingressgateway.token",
                                                     "--control-ca",
                                                     "/logs/ca/root-cert.pem"}));
  EXPECT_EQ(specs[1].after, 0);

  const ProcessSpec& sidecar = specs[2];
  EXPECT_EQ(sidecar.name, "items-api.sidecar");
  EXPECT_EQ(sidecar.argv, (std::vector<std::string>{"/bin/halyard-proxy",
                                                    "--control",
                                                    "127.0.0.1:15010",
                                                    "--role",
                                                    "sidecar",
                                                    "--workload",
                                                    "items-api",
                                                    "--namespace",
                                                    "default",
                                                    "--labels",
                                                    "app=items-api,version=v1",
                                                    "--service-account",
                                                    "items",
                                                    "--app-port",
                                                    "9081",
                                                    "--inbound-port",
                                                    "15100",
                                                    "--outbound-port",
                                                    "15101",
                                                    "--admin",
                                                    "127.0.0.1:15102",
                                                    "--workers",
                                                    "1",
                                                    "--token-file",
                                                    "/logs/credentials/items-api.sidecar.token",
                                                    "--control-ca",
                                                    "/logs/ca/root-cert.pem"}));
  EXPECT_EQ(sidecar.ready_port, 15102);
  EXPECT_EQ(sidecar.after, 0);
  EXPECT_TRUE(has(sidecar.env, "PORT=1"));  // proxies get the plain environment

  const ProcessSpec& app = specs[3];
  EXPECT_EQ(app.role, Role::kApp);
  EXPECT_EQ(app.program, "/usr/bin/python3");
  EXPECT_EQ(app.argv, (std::vector<std::string>{"python3", "app.py", "--port", "9081", "$(NOPE)"}));
  EXPECT_EQ(app.after, 2);
  EXPECT_EQ(app.sidecar, 2);
  EXPECT_EQ(app.ready_port, 9081);
  EXPECT_EQ(app.cwd, "/mesh");
  EXPECT_EQ(app.log_path, "/logs/items-api.log");
  EXPECT_TRUE(has(app.env, "PATH=/usr/bin"));
  EXPECT_TRUE(has(app.env, "PORT=9081"));
  EXPECT_TRUE(has(app.env, "http_proxy=http://127.0.0.1:15101"));
  EXPECT_TRUE(has(app.env, "HTTP_PROXY=http://elsewhere"));  // the declaration wins
  EXPECT_TRUE(has(app.env, "NO_PROXY=localhost,127.0.0.1"));
  EXPECT_TRUE(has(app.env, "HALYARD_WORKLOAD=items-api"));
  EXPECT_TRUE(has(app.env, "URL=http://x:9081/"));
  EXPECT_FALSE(has(app.env, "PORT=1"));
}

}  // namespace
}  // namespace halyard::up
