#include "cli/control_command.h"

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "cli/ca_flags.h"
#include "common/log.h"
#include "control/ca/duration.h"
#include "control/control_plane.h"

namespace halyard::cli {

namespace {

struct ControlFlags {
  std::string config_dir;
  std::string listen = "127.0.0.1:15010";
  std::string admin;
  int debounce_ms = 100;
  int resync_grace_ms = 3000;
  std::string ca_dir;  // empty: defaultCaDir()
  std::string workload_cert_ttl = "24h";
  std::string log_level = "info";
  int scrape_interval_ms = 5000;
  int scrape_ms_per_proxy = 15;
  bool trace_collector = false;
  std::string prometheus_url;
};

int runControl(const ControlFlags& flags) {
  common::setLogLevel(flags.log_level);
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto ttl = control::ca::parseDuration(flags.workload_cert_ttl);
  if (!ttl || *ttl < std::chrono::seconds(1)) {
    std::cerr << "halyard control: --workload-cert-ttl: "
              << (ttl ? "a certificate must live at least 1s, got " + flags.workload_cert_ttl
                      : ttl.error().message)
              << "\n";
    return 1;
  }
  auto ca_dir = flags.ca_dir.empty() ? defaultCaDir() : flags.ca_dir;
  if (ca_dir.empty()) {
    std::cerr << "halyard control: $HOME is not set: pass --ca-dir DIR\n";
    return 1;
  }
  control::ControlPlaneOptions options{flags.config_dir, flags.listen, flags.admin,
                                       std::chrono::milliseconds(flags.debounce_ms),
                                       std::chrono::milliseconds(flags.resync_grace_ms)};
  options.ca_dir = ca_dir;
  options.workload_cert_ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
  options.root_bundle_dir = kRootBundleDir;
  options.scrape_interval = std::chrono::milliseconds(flags.scrape_interval_ms);
  options.scrape_per_proxy = std::chrono::milliseconds(flags.scrape_ms_per_proxy);
  if (flags.trace_collector && flags.admin.empty()) {
    std::cerr << "halyard control: --trace-collector needs --admin: the spans are POSTed to the "
                 "admin address's /api/v2/spans\n";
    return 1;
  }
  options.trace_collector = flags.trace_collector;
  options.prometheus_url = flags.prometheus_url;
  control::ControlPlane plane(std::move(options));
  if (auto started = plane.start(); !started) {
    std::cerr << "halyard control: " << started.error().message << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  HLOG_INFO("signal {}: stopping", sig);
  plane.stop();
  return 0;
}

}  // namespace

void registerControlCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ControlFlags>();
  auto* cmd = app.add_subcommand(
      "control", "Run the control plane: watch a config directory and push snapshots to proxies");
  cmd->add_option("--config", flags->config_dir, "Directory of Istio YAML to serve (watched)")
      ->required();
  cmd->add_option("--listen", flags->listen, "gRPC address for proxies and the CLI")
      ->capture_default_str();
  cmd->add_option("--admin", flags->admin,
                  "HTTP address for /ready, /status and /metrics (e.g. 127.0.0.1:15011)");
  cmd->add_option("--debounce-ms", flags->debounce_ms,
                  "Quiet time after a change before the config is read again")
      ->capture_default_str()
      ->check(CLI::Range(0, 10'000));
  cmd->add_option("--resync-grace-ms", flags->resync_grace_ms,
                  "After a start, how long proxies that kept serving through a control-plane "
                  "restart wait for the sidecars to register again before they get new config")
      ->capture_default_str()
      ->check(CLI::Range(0, 60'000));
  cmd->add_option("--ca-dir", flags->ca_dir,
                  "CA directory: Istio's plug-in files (ca-cert.pem, ca-key.pem, root-cert.pem, "
                  "cert-chain.pem), or where a self-signed root is made; also holds token-key "
                  "[default: $HOME/.halyard/ca]");
  cmd->add_option("--workload-cert-ttl", flags->workload_cert_ttl,
                  "Lifetime of the workload certificates it issues (e.g. 24h, 90m, 1h30m)")
      ->capture_default_str();
  cmd->add_option("--scrape-interval-ms", flags->scrape_interval_ms,
                  "How often the dashboard's scrape of every proxy's /stats/prometheus runs "
                  "(with --admin); 0: only when /api/dashboard is asked")
      ->capture_default_str()
      ->check(CLI::Range(0, 3'600'000));
  cmd->add_option("--scrape-ms-per-proxy", flags->scrape_ms_per_proxy,
                  "A large mesh stretches the scrape interval to this much per proxy (15: 15 s for "
                  "1,000 proxies), which bounds its CPU; 0: the interval stays fixed")
      ->capture_default_str()
      ->check(CLI::Range(0, 10'000));
  cmd->add_flag("--trace-collector", flags->trace_collector,
                "Be the proxies' Zipkin collector (POST /api/v2/spans on --admin) while MeshConfig "
                "declares no tracing provider, for the dashboard's recent traces; sampling 1% "
                "unless a Telemetry sets randomSamplingPercentage");
  cmd->add_option("--prometheus-url", flags->prometheus_url,
                  "The dashboard reads the mesh's metrics from this Prometheus (query API over the "
                  "recording rules of deploy/prometheus) instead of scraping every proxy itself")
      ->check([](const std::string& v) -> std::string {
        return v.starts_with("http://") ? "" : "expected an http:// URL, got " + v;
      });
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
  cmd->callback([flags, &exit_code] { exit_code = runControl(*flags); });
}

}  // namespace halyard::cli
