// halyard-proxy: flags only; the process lives in src/proxy/runtime/proxy_process.h.
#include <CLI/CLI.hpp>

#include "proxy/runtime/proxy_process.h"

int main(int argc, char** argv) {
  halyard::proxy::runtime::ProxyProcessOptions o;
  CLI::App app{"halyard-proxy: the Halyard data plane (ingress gateway or sidecar)"};
  auto* config = app.add_option("--config", o.config_dir,
                                "Directory of Istio YAML to serve (standalone; or --control)");
  app.add_option("--control", o.control,
                 "Control plane address HOST:PORT to follow instead of --config")
      ->excludes(config);
  app.add_option("--token-file", o.token_file,
                 "With --control: file holding this proxy's bootstrap credential (`halyard token "
                 "create`), read at each connect")
      ->excludes(config);
  app.add_option("--control-ca", o.control_ca,
                 "With --control: PEM roots the control plane's certificate must chain to (its "
                 "CA's root-cert.pem), read at each connect")
      ->excludes(config);
  app.add_option("--control-server-name", o.control_server_name,
                 "With --control: the name the control plane's certificate must carry (SNI)")
      ->excludes(config)
      ->capture_default_str();
  app.add_option("--role", o.role, "gateway or sidecar")
      ->check(CLI::IsMember({"gateway", "sidecar"}))
      ->capture_default_str();
  app.add_option("--service-account", o.service_account,
                 "Service account of this workload (sidecar; for peer identity and metrics)");
  app.add_option("--app-port", o.app_port,
                 "Sidecar: the app's port on 127.0.0.1, where the inbound listener forwards");
  app.add_option("--inbound-port", o.inbound_port,
                 "Sidecar: the inbound listener's port, on --address")
      ->capture_default_str();
  app.add_option("--outbound-port", o.outbound_port,
                 "Sidecar: the outbound HTTP proxy's port on 127.0.0.1 (HTTP_PROXY for the app)")
      ->capture_default_str();
  app.add_option("--address", o.address,
                 "Sidecar: this workload's IP (inbound listener, service registry)")
      ->capture_default_str();
  app.add_option("--port-map", o.port_maps,
                 "GATEWAY_PORT=LOCAL_PORT: listen for a Gateway port on another local port "
                 "(repeatable)");
  app.add_option("--admin", o.admin,
                 "Admin listener HOST:PORT (/ready, /stats/prometheus, "
                 "/config_dump, /clusters); none when omitted");
  app.add_option("--workers", o.workers, "Worker threads (default: one per core)");
  app.add_option("--labels", o.labels,
                 "Labels of this workload, key=value (repeatable or comma-separated; gateway "
                 "default istio=ingressgateway)");
  app.add_option("--namespace", o.proxy_namespace, "Namespace of this workload")
      ->capture_default_str();
  app.add_option("--name,--workload", o.proxy_name, "Workload name of this proxy")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
  app.add_option("--access-log", o.access_log,
                 "Access log destination: /dev/stdout, /dev/stderr or a file (default: off)");
  app.add_option("--access-log-format", o.access_log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--request-headers-timeout-ms", o.request_headers_timeout_ms,
                 "Longest time a client may take to send a request head")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", o.idle_timeout_ms,
                 "Close connections (and tunnels) silent for this long")
      ->capture_default_str();
  app.add_option("--drain-timeout-ms", o.drain_timeout_ms,
                 "On SIGTERM, how long requests in flight may take to finish")
      ->capture_default_str();
  app.add_option("--watch-interval-ms", o.watch_interval_ms,
                 "Reload when files under --config change: inotify reacts within ~100 ms, and this "
                 "poll interval is the fallback (0: reload only on SIGHUP)")
      ->capture_default_str();
  app.add_option("--local-reply-detail", o.local_reply_detail,
                 "What the proxy's own answers tell clients: full (the x-halyard-reason header and "
                 "body name the cause, clusters and hosts included) or status (only the status "
                 "text; for gateways that face the internet). Access logs keep the full reason.")
      ->check(CLI::IsMember({"full", "status"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return halyard::proxy::runtime::runProxyProcess(o);
}
