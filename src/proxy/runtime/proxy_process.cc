#include "proxy/runtime/proxy_process.h"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <future>
#include <thread>

#include "common/log.h"
#include "proxy/net/host_port.h"
#include "proxy/net/listen_socket.h"
#include "proxy/runtime/admin_server.h"
#include "proxy/runtime/config_dump.h"
#include "proxy/runtime/config_fingerprint.h"
#include "proxy/runtime/config_watcher.h"
#include "proxy/runtime/io_ops.h"
#include "proxy/runtime/proxy_runtime.h"
#include "telemetry/peer_identity.h"
#include "telemetry/prometheus.h"
#include "telemetry/proxy_stats.h"
#include "translate/traffic_policy_compiler.h"
#include "translate/translate.h"
#include "wire/control_client.h"

namespace halyard::proxy::runtime {

namespace {

// The access log provider paths a config names (telemetry/access_logger.h: usePaths).
std::vector<std::string> accessLogPaths(const translate::Snapshot& snapshot) {
  std::vector<std::string> paths;
  for (const auto& l : snapshot.listeners) {
    if (!l.telemetry) continue;
    for (const auto& p : l.telemetry->access_log_providers) paths.push_back(p.path);
  }
  return paths;
}

constexpr std::string_view kBuildTag = "halyard-0.1.0";

// The admin address as a scraper elsewhere can dial it: the port actually bound (--admin may say
// 0), and loopback for a wildcard host (a scraper on this machine; the control plane's
// /sd/prometheus lists it as given).
std::string reachableAdmin(const std::string& flag, uint16_t bound_port) {
  auto where = net::parseHostPort(flag, true);
  std::string host = where ? where->host : "127.0.0.1";
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(bound_port);
}

std::string formatDiagnostic(const config::Diagnostic& d) {
  std::string s = d.pos.str();
  if (s.empty()) s = "<config>";
  s.append(": ").append(config::toString(d.level));
  if (!d.code.empty()) s.append(" [").append(d.code).append("]");
  if (!d.resource.kind.empty()) s.append(" ").append(d.resource.str());
  if (!d.field_path.empty() && d.message.find(d.field_path) == std::string::npos) {
    s.append(" ").append(d.field_path);
  }
  s.append(": ").append(d.message);
  return s;
}

// Prints errors to stderr and warnings to the log; true when there was no error.
bool report(const config::Diagnostics& diagnostics) {
  bool ok = true;
  for (const auto& d : diagnostics) {
    if (d.level == config::Level::kError) {
      std::fprintf(stderr, "%s\n", formatDiagnostic(d).c_str());
      ok = false;
    } else {
      HLOG_WARN("{}", formatDiagnostic(d));
    }
  }
  return ok;
}

bool parseLabels(const std::vector<std::string>& flags, std::map<std::string, std::string>& out) {
  if (flags.empty()) return true;
  out.clear();
  for (const auto& flag : flags) {
    size_t start = 0;
    while (start <= flag.size()) {
      const size_t comma = flag.find(',', start);
      const std::string item =
          flag.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? flag.size() + 1 : comma + 1;
      if (item.empty()) continue;
      const size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "--labels: \"%s\" is not key=value\n", item.c_str());
        return false;
      }
      out[item.substr(0, eq)] = item.substr(eq + 1);
    }
  }
  return true;
}

std::string_view labelOr(const std::map<std::string, std::string>& labels, const std::string& key,
                         std::string_view fallback) {
  auto it = labels.find(key);
  return it == labels.end() || it->second.empty() ? fallback : std::string_view(it->second);
}

using Verdict = common::Result<void, std::string>;

class Process {
 public:
  explicit Process(const ProxyProcessOptions& options) : options_(options), signals_(io_) {}

  int run();

 private:
  bool buildIdentity();
  bool buildRuntimeOptions(RuntimeOptions& out);
  WorkerTelemetry::Workload self() const;
  void startControlClient();
  // The /ready body in control mode while the proxy is not ready ("" when it is).
  std::string controlNotReady() const;
  // Main thread: serve a pushed snapshot, or say why not (the NACK's error).
  Verdict applyPushed(std::shared_ptr<const translate::Snapshot> snapshot);
  // Every listener `next` adds can be bound: a port another process holds is a NACK, not a
  // listener that silently never opens.
  Verdict checkBindable(const translate::Snapshot& next) const;
  void reload();
  void beginDrain();
  void awaitSignal();
  void pollDrain();
  void watch();
  // Every second: certificate files named by the snapshot (serverCertificate, caCertificates,
  // ...) live outside the config directory, so nothing else would notice them change.
  void watchTlsFiles();

  const ProxyProcessOptions& options_;
  asio::io_context io_{1};
  asio::signal_set signals_;
  translate::ProxyIdentity identity_;
  std::unique_ptr<telemetry::StatsStore> stats_;
  telemetry::AccessLogger access_log_;
  telemetry::ServerStats server_stats_;
  std::unique_ptr<ProxyRuntime> runtime_;
  std::unique_ptr<AdminServer> admin_;
  uint64_t version_ = 0;
  bool draining_ = false;
  Clock::time_point drain_deadline_{};
  std::unique_ptr<asio::steady_timer> drain_timer_;
  asio::steady_timer watch_timer_{io_};
  asio::steady_timer tls_files_timer_{io_};
  uint64_t fingerprint_ = 0;
  // inotify tells about a change within ~100 ms; the fingerprint poll (watch()) is the fallback
  // for file systems without inotify and for changes inotify cannot see (a remounted volume).
  std::unique_ptr<ConfigWatcher> watcher_;
  // Control mode.
  std::unique_ptr<wire::ControlClient> control_;
  bool configured_ = false;                         // a snapshot is served (standalone: always)
  telemetry::Gauge* certificate_expiry_ = nullptr;  // not_after of the workload certificate
  telemetry::Counter* certificates_ = nullptr;      // workload certificates installed
  // The main loop ended: the client thread must not wait for it to apply a push.
  std::atomic<bool> loop_done_{false};
};

bool Process::buildIdentity() {
  if (options_.role != "gateway" && options_.role != "sidecar") {
    std::fprintf(stderr, "--role: \"%s\" is not gateway or sidecar\n", options_.role.c_str());
    return false;
  }
  identity_.role = options_.role;
  // A sidecar is selected by its own labels only; the gateway default would be wrong for it.
  if (options_.role == "sidecar") identity_.labels.clear();
  if (!parseLabels(options_.labels, identity_.labels)) return false;
  identity_.namespace_ = options_.proxy_namespace;
  identity_.name = options_.proxy_name;
  identity_.service_account = options_.service_account;
  asio::error_code ec;
  asio::ip::make_address(options_.address, ec);
  if (ec) {
    std::fprintf(stderr, "--address: \"%s\" is not an IP address\n", options_.address.c_str());
    return false;
  }
  identity_.address = options_.address;
  identity_.app_port = options_.app_port;
  identity_.inbound_port = options_.inbound_port;
  identity_.outbound_port = options_.outbound_port;
  return true;
}

WorkerTelemetry::Workload Process::self() const {
  WorkerTelemetry::Workload w;
  w.workload = identity_.name;
  w.namespace_ = identity_.namespace_;
  w.app = labelOr(identity_.labels, "app", identity_.name);
  w.version = labelOr(identity_.labels, "version", telemetry::kUnknown);
  w.revision = translate::canonicalRevision(identity_.labels);
  w.canonical_service = translate::canonicalService(identity_.labels, identity_.name);
  if (!identity_.service_account.empty()) {
    telemetry::formatPrincipal(w.principal, identity_.namespace_, identity_.service_account);
  }
  return w;
}

bool Process::buildRuntimeOptions(RuntimeOptions& out) {
  out.workers =
      options_.workers ? options_.workers : std::max(1u, std::thread::hardware_concurrency());
  for (const auto& m : options_.port_maps) {
    auto mapping = net::parsePortMapping(m);
    if (!mapping) {
      std::fprintf(stderr, "--port-map: %s\n", mapping.error().message.c_str());
      return false;
    }
    out.port_map[mapping->first] = mapping->second;
  }
  out.connection.request_headers_timeout = Millis(options_.request_headers_timeout_ms);
  out.connection.idle_timeout = Millis(options_.idle_timeout_ms);
  out.connection.local_reply_reasons = options_.local_reply_detail != "status";
  out.drain_timeout = Millis(options_.drain_timeout_ms);
  // Locality-aware load balancing compares endpoints' localities with the proxy's own, which
  // its topology labels give (as a Kubernetes node's do for Istio).
  out.shared_upstream = std::make_shared<upstream::SharedUpstream>();
  out.shared_upstream->setProxy(translate::localityFromLabels(identity_.labels), identity_.labels);
  const WorkerTelemetry::Workload w = self();
  out.connection.peer_header =
      telemetry::formatPeerIdentity({w.workload, w.namespace_, w.app, w.version, w.revision,
                                     identity_.service_account, w.canonical_service});
  return true;
}

int Process::run() {
  common::setLogLevel(options_.log_level);
  if (options_.config_dir.empty() == options_.control.empty()) {
    std::fprintf(stderr,
                 "halyard-proxy: give exactly one of --config DIR (serve files) and --control ADDR "
                 "(follow a control plane)\n");
    return 1;
  }
  if (!options_.control.empty() && options_.control_ca.empty()) {
    std::fprintf(stderr,
                 "halyard-proxy: --control needs --control-ca FILE, the root certificate the "
                 "control plane's TLS certificate chains to (root-cert.pem in its --ca-dir, or "
                 "/tmp/halyard-control-<port>.root.pem on the control plane's machine)\n");
    return 1;
  }
  if (!buildIdentity()) return 1;
  RuntimeOptions runtime_options;
  if (!buildRuntimeOptions(runtime_options)) return 1;

  std::shared_ptr<const translate::Snapshot> first;
  if (!options_.config_dir.empty()) {
    // Taken before loading, as reload() does; without it the first check reloads for nothing.
    fingerprint_ = configFingerprint(options_.config_dir);
    translate::TranslateResult loaded =
        translate::loadSnapshot(options_.config_dir, identity_, ++version_);
    if (!report(loaded.diagnostics) || !loaded.snapshot) {
      std::fprintf(stderr, "halyard-proxy: the configuration in %s has errors; not starting\n",
                   options_.config_dir.c_str());
      return 1;
    }
    for (const auto& w : loaded.snapshot->warnings) HLOG_WARN("{}", w);
    if (loaded.snapshot->listeners.empty() && identity_.role == "gateway") {
      HLOG_WARN("no Gateway in {} selects this proxy (labels {}): nothing to listen on",
                options_.config_dir,
                options_.labels.empty() ? "istio=ingressgateway" : options_.labels.front());
    }
    first = loaded.snapshot;
    configured_ = true;
  } else {
    // Nothing to listen on until the control plane says what; /ready tells it meanwhile.
    first = std::make_shared<const translate::Snapshot>();
  }

  if (!options_.access_log.empty()) {
    auto opened = access_log_.open(options_.access_log);
    if (!opened) {
      std::fprintf(stderr, "--access-log: %s\n", opened.error().message.c_str());
      return 1;
    }
    access_log_.setFormat(options_.access_log_format == "json" ? telemetry::AccessLogFormat::kJson
                                                               : telemetry::AccessLogFormat::kText);
  }
  stats_ = std::make_unique<telemetry::StatsStore>(runtime_options.workers);
  server_stats_ = telemetry::ServerStats::resolve(stats_->mainThread());
  server_stats_.config_version->set(static_cast<int64_t>(version_));
  certificate_expiry_ =
      &stats_->mainThread().gauge("halyard_workload_certificate_expiry_timestamp_seconds");
  certificates_ = &stats_->mainThread().counter("halyard_workload_certificates_total");

  // The logger is passed even without --access-log: the Telemetry API's providers name their
  // own paths (telemetry/access_logger.h).
  runtime_ = std::make_unique<ProxyRuntime>(std::move(runtime_options), stats_.get(), &access_log_,
                                            self());
  auto started = runtime_->start(first);
  if (!started) {
    std::fprintf(stderr, "halyard-proxy: %s\n", started.error().message.c_str());
    return 1;
  }

  if (!options_.admin.empty()) {
    auto where = net::parseHostPort(options_.admin, true);
    if (!where) {
      std::fprintf(stderr, "--admin: %s\n", where.error().message.c_str());
      return 1;
    }
    admin_ = std::make_unique<AdminServer>(io_);
    admin_->handle("/ready", [this](std::string_view) {
      if (draining_) return AdminResponse{503, "text/plain; charset=utf-8", "DRAINING\n"};
      if (!options_.control.empty()) {
        if (std::string waiting = controlNotReady(); !waiting.empty()) {
          return AdminResponse{503, "text/plain; charset=utf-8", std::move(waiting)};
        }
      }
      return AdminResponse{200, "text/plain; charset=utf-8", "LIVE\n"};
    });
    // ?filter=REGEX: only the families whose name matches, as Envoy's admin does (the control
    // plane's dashboard scrape asks for the two it reads).
    admin_->handle("/stats/prometheus", [this](std::string_view query) {
      auto filter = telemetry::prometheusFilter(query);
      if (!filter) {
        return AdminResponse{400, "text/plain; charset=utf-8", filter.error().message + "\n"};
      }
      return AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                           stats_->renderPrometheus(kBuildTag, filter->get())};
    });
    admin_->handle("/config_dump", [this](std::string_view) {
      return AdminResponse{200, "application/json", configDumpJson(*runtime_->snapshot())};
    });
    admin_->handle("/clusters", [this](std::string_view) {
      return AdminResponse{
          200, "text/plain; charset=utf-8",
          clustersText(*runtime_->snapshot(), runtime_->options().shared_upstream.get())};
    });
    // Access log format switch at runtime: /logging?format=text|json|off (the destination is the
    // --access-log file given at start; the workers read the format atomically per line).
    admin_->handle("/logging", [this](std::string_view query) {
      const char* names[] = {"off", "text", "json"};
      if (options_.access_log.empty()) {
        return AdminResponse{409, "text/plain; charset=utf-8",
                             "no access log: start halyard-proxy with --access-log FILE\n"};
      }
      if (query.starts_with("format=")) {
        std::string_view f = query.substr(7);
        if (f == "off") {
          access_log_.setFormat(telemetry::AccessLogFormat::kOff);
        } else if (f == "text") {
          access_log_.setFormat(telemetry::AccessLogFormat::kText);
        } else if (f == "json") {
          access_log_.setFormat(telemetry::AccessLogFormat::kJson);
        } else {
          return AdminResponse{400, "text/plain; charset=utf-8",
                               "format must be text, json or off\n"};
        }
      } else if (!query.empty()) {
        return AdminResponse{400, "text/plain; charset=utf-8",
                             "use /logging?format=text|json|off\n"};
      }
      return AdminResponse{200, "text/plain; charset=utf-8",
                           std::string("access log format: ") +
                               names[static_cast<int>(access_log_.format())] + "\n"};
    });
    auto listening = admin_->listen(where->host, where->port);
    if (!listening) {
      std::fprintf(stderr, "--admin: %s\n", listening.error().message.c_str());
      return 1;
    }
  }

  for (const auto& l : first->listeners) {
    if (l.kind == translate::ListenerKind::kOutboundPort) continue;
    HLOG_INFO("listening on {}:{} for {} (port {})",
              l.bind_address.empty() ? "0.0.0.0" : l.bind_address,
              runtime_->options().localPort(l.port), l.name, l.port);
  }
  if (configured_) {
    HLOG_INFO("serving config version {} with {} workers", version_, runtime_->options().workers);
  }

  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  signals_.add(SIGUSR1);  // reopen the access log files (log rotation), as Envoy's admin does
  awaitSignal();
  if (!options_.control.empty()) {
    startControlClient();
  } else {
    watch();
  }
  watchTlsFiles();
  if (!options_.config_dir.empty() && options_.watch_interval_ms != 0) {
    watcher_ = std::make_unique<ConfigWatcher>(io_, options_.config_dir, [this] {
      if (draining_) return;
      const uint64_t now = configFingerprint(options_.config_dir);
      if (now != 0 && now != fingerprint_) reload();
    });
    if (auto started = watcher_->start(); !started) {
      HLOG_WARN("{}; polling every {} ms instead", started.error().message,
                options_.watch_interval_ms);
      watcher_.reset();
    }
  }
  io_.run();
  loop_done_ = true;
  if (control_) control_->stop();
  watcher_.reset();
  runtime_->stop();
  HLOG_INFO("stopped");
  return 0;
}

void Process::startControlClient() {
  wire::ControlClientOptions o;
  o.address = options_.control;
  wire::v1::ProxyHello& hello = o.hello;
  hello.set_name(identity_.name);
  hello.set_namespace_(identity_.namespace_);
  for (const auto& [k, v] : identity_.labels) (*hello.mutable_labels())[k] = v;
  hello.set_role(identity_.role);
  hello.set_service_account(identity_.service_account);
  hello.set_address(identity_.address);
  if (identity_.app_port != 0) {
    wire::v1::WorkloadPort* port = hello.add_ports();
    port->set_name("http");
    port->set_number(identity_.app_port);
    port->set_protocol("HTTP");
  }
  hello.set_inbound_port(identity_.inbound_port);
  hello.set_outbound_port(identity_.outbound_port);
  hello.set_build_version(std::string(kBuildTag));
  // /sd/prometheus lists it; `halyard proxy-config endpoints` reads endpoint health there.
  if (admin_) hello.set_admin_address(reachableAdmin(options_.admin, admin_->port()));
  o.ca_file = options_.control_ca;
  o.server_name = options_.control_server_name;
  o.token_file = options_.token_file;
  // Said once at start; the client reads the file again at each connect, so a token written
  // later is picked up without a restart (and /ready says what is missing meanwhile).
  if (options_.token_file.empty()) {
    HLOG_WARN(
        "no --token-file: the control plane at {} will refuse this proxy (UNAUTHENTICATED) "
        "without a credential from `halyard token create`",
        options_.control);
  } else if (std::FILE* token = std::fopen(options_.token_file.c_str(), "r"); !token) {
    HLOG_ERROR("cannot read the token file {}: {}; reading it again at each connect",
               options_.token_file, std::strerror(errno));
  } else {
    std::fclose(token);
  }
  // The client's thread hands each push to the main loop, which owns the runtime, and waits for
  // its verdict: what the control plane hears is what the proxy actually did.
  auto apply = [this](std::shared_ptr<const translate::Snapshot> snapshot) -> Verdict {
    auto verdict = std::make_shared<std::promise<Verdict>>();
    std::future<Verdict> answer = verdict->get_future();
    asio::post(io_, [this, snapshot = std::move(snapshot), verdict]() mutable {
      verdict->set_value(applyPushed(std::move(snapshot)));
    });
    while (answer.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (loop_done_) return common::unexpected(std::string("the proxy is stopping"));
    }
    return answer.get();
  };
  auto on_answer = [this](bool ack, uint64_t) {
    asio::post(io_, [this, ack] {
      (ack ? server_stats_.control_ack : server_stats_.control_nack)->inc();
    });
  };
  control_ = std::make_unique<wire::ControlClient>(
      std::move(o), std::move(apply), wire::ControlClient::OnConfigError{}, std::move(on_answer));
  // Posted like a push, so a certificate is installed before any push the client applies after
  // it (the main loop runs what is posted in order).
  control_->setOnCertificate([this](std::shared_ptr<const translate::WorkloadIdentity> identity) {
    asio::post(io_, [this, identity = std::move(identity)]() mutable {
      certificate_expiry_->set(identity->not_after);
      certificates_->inc();
      runtime_->setWorkloadIdentity(std::move(identity));
    });
  });
  HLOG_INFO("following the control plane at {} as {} {}.{}", options_.control, identity_.role,
            identity_.name, identity_.namespace_);
  control_->start();
}

std::string Process::controlNotReady() const {
  const auto& identity = runtime_->workloadIdentity();
  const bool certified = identity && identity->not_after > static_cast<int64_t>(std::time(nullptr));
  if (certified && configured_) return "";
  if (std::string refusal = control_ ? control_->refusal() : ""; !refusal.empty()) {
    return "the control plane refused this proxy: " + refusal + "\n";
  }
  std::string body;
  if (!certified) {
    body += identity ? "the workload certificate expired; waiting for a new one from "
                     : "waiting for a workload certificate from ";
    body += options_.control + "\n";
  }
  if (!configured_) body += "waiting for the first config from " + options_.control + "\n";
  if (std::string error = control_ ? control_->lastError() : ""; !error.empty()) {
    body += "last attempt: " + error + "\n";
  }
  return body;
}

Verdict Process::checkBindable(const translate::Snapshot& next) const {
  const RuntimeOptions& ro = runtime_->options();
  auto bound = [](const translate::Listener& l) {
    return l.kind != translate::ListenerKind::kOutboundPort;
  };
  auto bindOf = [](const translate::Listener& l) {
    return l.bind_address.empty() ? std::string("0.0.0.0") : l.bind_address;
  };
  for (const auto& l : next.listeners) {
    if (!bound(l)) continue;
    const std::string address = bindOf(l);
    const uint16_t port = ro.localPort(l.port);
    // Our workers hold this one already.
    bool held = false;
    for (const auto& c : runtime_->snapshot()->listeners) {
      held = held || (bound(c) && bindOf(c) == address && ro.localPort(c.port) == port);
    }
    if (held) continue;
    if (auto ok = net::checkBindable(address, port); !ok) {
      return common::unexpected(ok.error().message + " (listener " + l.name + ")");
    }
  }
  return common::Ok{};
}

Verdict Process::applyPushed(std::shared_ptr<const translate::Snapshot> snapshot) {
  if (draining_) return common::unexpected(std::string("draining"));
  if (auto ok = checkBindable(*snapshot); !ok) return ok;
  for (const auto& w : snapshot->warnings) HLOG_WARN("{}", w);
  size_t bound = 0;
  for (const auto& l : snapshot->listeners) {
    bound += l.kind != translate::ListenerKind::kOutboundPort;
  }
  version_ = snapshot->version;
  server_stats_.config_version->set(static_cast<int64_t>(version_));
  HLOG_INFO("serving config version {} from {} ({} listeners bound, {} route tables, {} clusters)",
            version_, options_.control, bound, snapshot->listeners.size() - bound,
            snapshot->clusters.size());
  access_log_.usePaths(accessLogPaths(*snapshot));
  runtime_->updateSnapshot(std::move(snapshot));
  configured_ = true;
  return common::Ok{};
}

void Process::awaitSignal() {
  signals_.async_wait([this](const asio::error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGUSR1) {
      access_log_.reopen();
      HLOG_INFO("SIGUSR1: access log files reopened");
    } else if (signal == SIGHUP) {
      if (options_.config_dir.empty()) {
        HLOG_INFO("SIGHUP: nothing to reload, the config comes from {}", options_.control);
      } else {
        reload();
      }
    } else if (draining_) {
      io_.stop();  // a second SIGTERM/SIGINT: stop without waiting
      return;
    } else {
      beginDrain();
    }
    awaitSignal();
  });
}

void Process::watchTlsFiles() {
  tls_files_timer_.expires_after(std::chrono::seconds(1));
  tls_files_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || draining_) return;
    runtime_->reloadChangedTlsFiles();
    watchTlsFiles();
  });
}

void Process::watch() {
  if (options_.watch_interval_ms == 0) return;
  watch_timer_.expires_after(std::chrono::milliseconds(options_.watch_interval_ms));
  watch_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || draining_) return;
    const uint64_t now = configFingerprint(options_.config_dir);
    if (now != 0 && now != fingerprint_) reload();
    watch();
  });
}

void Process::reload() {
  // Taken before loading: a change made while loading is seen by the next check.
  fingerprint_ = configFingerprint(options_.config_dir);
  translate::TranslateResult loaded =
      translate::loadSnapshot(options_.config_dir, identity_, version_ + 1);
  const bool ok = report(loaded.diagnostics) && loaded.snapshot;
  if (!ok) {
    server_stats_.config_reload_rejected->inc();
    HLOG_ERROR("reload of {} rejected; still serving version {}", options_.config_dir, version_);
    return;
  }
  ++version_;
  server_stats_.config_reload_ok->inc();
  server_stats_.config_version->set(static_cast<int64_t>(version_));
  access_log_.usePaths(accessLogPaths(*loaded.snapshot));
  runtime_->updateSnapshot(loaded.snapshot);
  HLOG_INFO("reloaded {}: serving config version {}", options_.config_dir, version_);
}

void Process::beginDrain() {
  draining_ = true;
  HLOG_INFO("draining: no new connections, finishing requests in flight");
  runtime_->drain();
  drain_deadline_ = Clock::now() + runtime_->options().drain_timeout;
  drain_timer_ = std::make_unique<asio::steady_timer>(io_);
  pollDrain();
}

void Process::pollDrain() {
  if (runtime_->activeConnections() == 0 || Clock::now() >= drain_deadline_) {
    if (admin_) admin_->close();
    io_.stop();
    return;
  }
  drain_timer_->expires_after(std::chrono::milliseconds(20));
  drain_timer_->async_wait([this](const asio::error_code& ec) {
    if (!ec) pollDrain();
  });
}

}  // namespace

int runProxyProcess(const ProxyProcessOptions& options) {
  Process process(options);
  return process.run();
}

}  // namespace halyard::proxy::runtime
