// The halyard-proxy process. Standalone (--config DIR): load the directory into a snapshot
// (errors, with file:line, end the process before anything listens); SIGHUP and file changes
// reload it. Control mode (--control ADDR): start with no listeners and follow the control
// plane's pushes (docs/control-protocol.md) over TLS, answering each with ACK or NACK, with the
// workload certificate the control plane issues for the proxy's own key; /ready says 503 until
// it has both a snapshot and a certificate, and says which it waits for. Both: start the workers,
// the admin listener and the signal handling (SIGTERM/SIGINT drain and exit), and run the main
// thread's event loop until the end. cmd/halyard_proxy_main.cc only parses flags into
// ProxyProcessOptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace halyard::proxy::runtime {

struct ProxyProcessOptions {
  std::string config_dir;  // exactly one of config_dir and control
  std::string control;     // the control plane's gRPC address, "127.0.0.1:15010"
  // Control mode: the bootstrap credential's file, the roots that verify the control plane's
  // certificate (both read at each connect), and the name that certificate must carry.
  std::string token_file;
  std::string control_ca;
  std::string control_server_name = "istiod.istio-system.svc";
  std::string role = "gateway";  // gateway | sidecar
  // Sidecars (translate::ProxyIdentity has the meaning of each).
  std::string service_account;
  std::string address = "127.0.0.1";
  uint16_t app_port = 0;
  uint16_t inbound_port = 15006;
  uint16_t outbound_port = 15001;
  std::vector<std::string> port_maps;  // "80=8080"
  std::string admin;                   // "127.0.0.1:15000"; empty: no admin listener
  size_t workers = 0;                  // 0: one per core
  std::vector<std::string> labels;     // "istio=ingressgateway" (comma-separated lists too)
  std::string proxy_namespace = "istio-system";
  std::string proxy_name = "halyard-gateway";
  std::string log_level = "info";
  std::string access_log;  // meshConfig.accessLogFile semantics: "" off, "/dev/stdout", a path
  std::string access_log_format = "text";  // text | json
  uint64_t request_headers_timeout_ms = 10'000;
  uint64_t idle_timeout_ms = 300'000;
  std::string local_reply_detail = "full";  // or "status"
  uint64_t drain_timeout_ms = 5'000;
  // How often the config directory is checked for changes (reloaded like SIGHUP); 0: never.
  uint64_t watch_interval_ms = 1'000;
};

// Returns the process exit code.
int runProxyProcess(const ProxyProcessOptions& options);

}  // namespace halyard::proxy::runtime
