#include "proxy/runtime/proxy_process.h"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <thread>

#include "common/log.h"
#include "proxy/net/host_port.h"
#include "proxy/runtime/admin_server.h"
#include "proxy/runtime/config_dump.h"
#include "proxy/runtime/config_fingerprint.h"
#include "proxy/runtime/config_watcher.h"
#include "proxy/runtime/io_ops.h"
#include "proxy/runtime/proxy_runtime.h"
#include "telemetry/proxy_stats.h"
#include "translate/translate.h"

namespace halyard::proxy::runtime {

namespace {

constexpr std::string_view kBuildTag = "halyard-0.1.0";

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

class Process {
 public:
  explicit Process(const ProxyProcessOptions& options) : options_(options), signals_(io_) {}

  int run();

 private:
  bool buildRuntimeOptions(RuntimeOptions& out);
  void reload();
  void beginDrain();
  void awaitSignal();
  void pollDrain();
  void watch();

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
  uint64_t fingerprint_ = 0;
  // inotify tells about a change within ~100 ms; the fingerprint poll (watch()) is the fallback
  // for file systems without inotify and for changes inotify cannot see (a remounted volume).
  std::unique_ptr<ConfigWatcher> watcher_;
};

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
  out.drain_timeout = Millis(options_.drain_timeout_ms);
  return true;
}

int Process::run() {
  common::setLogLevel(options_.log_level);
  RuntimeOptions runtime_options;
  if (!buildRuntimeOptions(runtime_options)) return 1;
  if (!parseLabels(options_.labels, identity_.labels)) return 1;
  identity_.namespace_ = options_.proxy_namespace;
  identity_.name = options_.proxy_name;

  translate::TranslateResult loaded =
      translate::loadSnapshot(options_.config_dir, identity_, ++version_);
  if (!report(loaded.diagnostics) || !loaded.snapshot) {
    std::fprintf(stderr, "halyard-proxy: the configuration in %s has errors; not starting\n",
                 options_.config_dir.c_str());
    return 1;
  }
  for (const auto& w : loaded.snapshot->warnings) HLOG_WARN("{}", w);
  if (loaded.snapshot->listeners.empty()) {
    HLOG_WARN("no Gateway in {} selects this proxy (labels {}): nothing to listen on",
              options_.config_dir,
              options_.labels.empty() ? "istio=ingressgateway" : options_.labels.front());
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

  WorkerTelemetry::Source source;
  source.workload = identity_.name;
  source.namespace_ = identity_.namespace_;
  source.app = identity_.name;
  runtime_ =
      std::make_unique<ProxyRuntime>(std::move(runtime_options), stats_.get(),
                                     options_.access_log.empty() ? nullptr : &access_log_, source);
  auto started = runtime_->start(loaded.snapshot);
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
      return draining_ ? AdminResponse{503, "text/plain; charset=utf-8", "DRAINING\n"}
                       : AdminResponse{200, "text/plain; charset=utf-8", "LIVE\n"};
    });
    admin_->handle("/stats/prometheus", [this](std::string_view) {
      return AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                           stats_->renderPrometheus(kBuildTag)};
    });
    admin_->handle("/config_dump", [this](std::string_view) {
      return AdminResponse{200, "application/json", configDumpJson(*runtime_->snapshot())};
    });
    admin_->handle("/clusters", [this](std::string_view) {
      return AdminResponse{200, "text/plain; charset=utf-8", clustersText(*runtime_->snapshot())};
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
        return AdminResponse{400, "text/plain; charset=utf-8", "use /logging?format=text|json|off\n"};
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

  for (const auto& l : loaded.snapshot->listeners) {
    HLOG_INFO("listening on {}:{} for {} (Gateway port {})",
              l.bind_address.empty() ? "0.0.0.0" : l.bind_address,
              runtime_->options().localPort(l.port), l.name, l.port);
  }
  HLOG_INFO("serving config version {} with {} workers", version_, runtime_->options().workers);

  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  awaitSignal();
  watch();
  if (options_.watch_interval_ms != 0) {
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
  watcher_.reset();
  runtime_->stop();
  HLOG_INFO("stopped");
  return 0;
}

void Process::awaitSignal() {
  signals_.async_wait([this](const asio::error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      reload();
    } else if (draining_) {
      io_.stop();  // a second SIGTERM/SIGINT: stop without waiting
      return;
    } else {
      beginDrain();
    }
    awaitSignal();
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
