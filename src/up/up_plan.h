// What `halyard up DIR` will run, worked out and checked before anything starts: the config is
// analyzed, every Workload decoded, every command found, every fixed port checked free, and the
// other ports allocated. Any problem is reported here, so nothing is ever half-started.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "up/workload.h"

namespace halyard::up {

struct UpOptions {
  std::string dir;
  std::vector<std::string> port_maps = {"80=8080"};  // GATEWAY_PORT=LOCAL_PORT, first gateway
  uint16_t base_port = 15000;             // layout: see docs/halyard-up.md; 0 = kernel-picked ports
  std::string log_dir;                    // "" = a fresh /tmp/halyard-up-<pid>
  std::string ca_dir;                     // "" = <log_dir>/ca (the control plane's --ca-dir)
  std::string workload_cert_ttl = "24h";  // the control plane's --workload-cert-ttl
  std::string proxy_binary;               // "" = halyard-proxy next to the running halyard
  std::string halyard_binary;             // "" = the running halyard
};

struct GatewayPlan {
  std::string name;  // "istio-ingressgateway"
  std::string namespace_ = "istio-system";
  std::string service_account = "istio-ingressgateway-service-account";  // Istio's default
  std::map<std::string, std::string> labels;                             // the Gateways' selector
  std::vector<std::pair<uint16_t, uint16_t>> port_map;  // Gateway port -> local port
  uint16_t admin_port = 0;
};

struct WorkloadPlan {
  Workload workload;
  std::string program;  // command[0] resolved to an executable path
  uint16_t inbound_port = 0;
  uint16_t outbound_port = 0;
  uint16_t admin_port = 0;
};

// A request to try through a gateway, from the VirtualServices bound to it.
struct TryLine {
  std::string host;
  uint16_t local_port = 0;
  std::string path;          // "/api"; "/" when the route matches every path
  std::string destinations;  // "items-api-svc", "front-svc 100%, front-v2-svc 0%"
};

struct UpPlan {
  std::string dir;  // absolute
  std::string log_dir;
  std::string ca_dir;  // absolute; root-cert.pem there is what the proxies trust
  std::string workload_cert_ttl;
  std::string halyard_binary;
  std::string proxy_binary;
  // HALYARD_PROXY_WRAPPER, for measuring tools only (bench/tracing_instructions.py runs the
  // proxies under callgrind): every proxy is started as `<wrapper> <proxy_binary> <args...>`.
  // The wrapper must exec the proxy in place, so the pid halyard up watches stays the proxy's.
  std::string proxy_wrapper;
  uint16_t control_port = 0;
  uint16_t control_admin_port = 0;
  std::vector<GatewayPlan> gateways;
  std::vector<WorkloadPlan> workloads;
  std::vector<TryLine> tries;
  std::vector<std::string> warnings;  // analysis warnings: shown, not fatal
};

// Where a proxy's bootstrap credential is written before it starts (mode 0600), and the root
// certificate it verifies the control plane against.
std::string credentialPath(const UpPlan& plan, const std::string& process_name);
std::string rootCertPath(const UpPlan& plan);

// Every problem found, one sentence each, naming what to do.
common::Result<UpPlan, std::vector<std::string>> makePlan(const UpOptions& options);

}  // namespace halyard::up
