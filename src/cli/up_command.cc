#include "cli/up_command.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/prometheus_launch.h"
#include "control/ca/bootstrap_token.h"
#include "control/ca/duration.h"
#include "up/process_specs.h"
#include "up/supervisor.h"
#include "up/up_plan.h"

extern char** environ;

namespace halyard::cli {

namespace {

namespace fs = std::filesystem;

constexpr int kExitFailed = 1;  // validation, usage or start errors (docs/halyard-up.md)

struct UpFlags {
  std::string dir;
  std::vector<std::string> port_maps = {"80=8080"};
  uint16_t base_port = 15000;
  std::string log_dir;
  std::string ca_dir;
  std::string workload_cert_ttl = "24h";
  bool detach = false;
  bool prometheus = false;  // --prometheus: Debian's Prometheus next to the mesh
  PrometheusOptions prometheus_options;
  std::string dashboard_source = "auto";  // auto (prometheus with --prometheus), scrape, prometheus
  bool no_trace_collector = false;        // --no-trace-collector
};

// Where a detached `halyard up` notes its log directory, for `halyard down` without flags.
constexpr const char* kLastDetachedFile = "/tmp/halyard-up.last";

std::string loopback(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// Where things run, as JSON next to the logs (for scripts and tests); rewritten on every change.
void writeState(const up::UpPlan& plan, const up::Supervisor& sup,
                const PrometheusLaunch* prometheus) {
  nlohmann::json j;
  j["dir"] = plan.dir;
  j["log_dir"] = plan.log_dir;
  j["halyard_pid"] = ::getpid();
  j["control"] = {{"listen", loopback(plan.control_port)},
                  {"admin", loopback(plan.control_admin_port)},
                  {"ca_dir", plan.ca_dir},
                  {"root_cert", up::rootCertPath(plan)}};
  j["gateways"] = nlohmann::json::array();
  for (const auto& gw : plan.gateways) {
    nlohmann::json g{{"name", gw.name}, {"admin", loopback(gw.admin_port)}};
    for (const auto& [from, to] : gw.port_map) g["ports"][std::to_string(from)] = to;
    j["gateways"].push_back(g);
  }
  j["workloads"] = nlohmann::json::array();
  for (const auto& wp : plan.workloads) {
    j["workloads"].push_back({{"name", wp.workload.name},
                              {"namespace", wp.workload.namespace_},
                              {"app_port", wp.workload.port},
                              {"inbound_port", wp.inbound_port},
                              {"outbound_port", wp.outbound_port},
                              {"admin", loopback(wp.admin_port)}});
  }
  if (prometheus) {
    j["prometheus"] = {{"url", prometheus->url},
                       {"config", prometheus->config_path},
                       {"rules_dir", prometheus->rules_dir},
                       {"rule_files", prometheus->rule_files}};
  }
  j["processes"] = nlohmann::json::array();
  for (size_t i = 0; i < sup.specs().size(); ++i) {
    const auto& spec = sup.specs()[i];
    const auto& st = sup.states()[i];
    j["processes"].push_back({{"name", spec.name},
                              {"role", up::toString(spec.role)},
                              {"pid", st.pid},
                              {"pids", st.history},
                              {"restarts", st.restarts},
                              {"done", st.done},
                              {"log", spec.log_path}});
  }
  const std::string path = plan.log_dir + "/state.json";
  {
    std::ofstream out(path + ".tmp");
    out << j.dump(1) << "\n";
  }
  std::error_code ec;
  fs::rename(path + ".tmp", path, ec);
}

std::string shown(const std::string& path) {
  std::error_code ec;
  fs::path rel = fs::relative(path, fs::current_path(ec), ec);
  if (ec || rel.empty() || *rel.begin() == "..") return path;
  return rel.string();
}

void printTable(const up::UpPlan& plan, const up::Supervisor& sup, bool detached,
                const PrometheusLaunch* prometheus) {
  auto pid = [&](size_t i) { return std::to_string(sup.states()[i].pid); };
  auto file = [&](size_t i) { return fs::path(sup.specs()[i].log_path).filename().string(); };
  std::ostringstream o;
  o << "\nThe mesh from " << shown(plan.dir) << " is running. Logs: " << plan.log_dir << "/\n\n";
  o << std::left << std::setw(22) << "PROCESS" << std::setw(9) << "PID" << std::setw(40)
    << "LISTENS" << std::setw(26) << "ADMIN"
    << "LOG\n";
  o << std::setw(22) << "control-plane" << std::setw(9) << pid(0) << std::setw(40)
    << "grpc " + loopback(plan.control_port) << std::setw(26)
    << "http://" + loopback(plan.control_admin_port) << file(0) << "\n";
  for (size_t g = 0; g < plan.gateways.size(); ++g) {
    const auto& gw = plan.gateways[g];
    std::string ports;
    for (const auto& [from, to] : gw.port_map) {
      ports += (ports.empty() ? "" : ", ") + std::to_string(from) +
               " on localhost:" + std::to_string(to);
    }
    o << std::setw(22) << gw.name << std::setw(9) << pid(1 + g) << std::setw(40)
      << "gateway " + ports << std::setw(26) << "http://" + loopback(gw.admin_port) << file(1 + g)
      << "\n";
  }
  o << "\n"
    << std::setw(16) << "WORKLOAD" << std::setw(8) << "PID" << std::setw(10) << "APP PORT"
    << std::setw(13) << "SIDECAR PID" << std::setw(9) << "INBOUND" << std::setw(10) << "OUTBOUND"
    << std::setw(26) << "SIDECAR ADMIN"
    << "LOGS (app, sidecar)\n";
  size_t i = 1 + plan.gateways.size();
  for (const auto& wp : plan.workloads) {
    o << std::setw(16) << wp.workload.name << std::setw(8) << pid(i + 1) << std::setw(10)
      << wp.workload.port << std::setw(13) << pid(i) << std::setw(9) << wp.inbound_port
      << std::setw(10) << wp.outbound_port << std::setw(26) << "http://" + loopback(wp.admin_port)
      << file(i + 1) + ", " + file(i) << "\n";
    i += 2;
  }
  o << "\nDashboard: http://" << loopback(plan.control_admin_port)
    << "/  (service graph, golden signals, proxy status; halyard dashboard opens it)\n";
  if (prometheus) {
    o << "Prometheus: " << prometheus->url << "  (every proxy and the control plane, from "
      << "http://" << loopback(plan.control_admin_port) << "/sd/prometheus; rules from "
      << shown(prometheus->rules_dir) << "; log prometheus.log)\n";
  }
  if (!plan.tries.empty()) o << "\nTry:\n";
  for (const auto& t : plan.tries) {
    std::string line =
        "  curl -H 'Host: " + t.host + "' localhost:" + std::to_string(t.local_port) + t.path;
    o << std::setw(72) << line << "  # -> " << t.destinations << "\n";
  }
  const std::string control_flag =
      plan.control_port == 15010 ? "" : " --control " + loopback(plan.control_port);
  o << "  " << shown(plan.halyard_binary) << " proxy-status" << control_flag
    << "    # what every proxy serves\n";
  if (!plan.gateways.empty()) {
    o << "  curl -s " << loopback(plan.gateways[0].admin_port)
      << "/stats/prometheus | grep istio_requests_total    # the gateway's metrics\n";
  }
  if (!plan.workloads.empty()) {
    o << "  curl -s " << loopback(plan.workloads[0].admin_port)
      << "/stats/prometheus | grep istio_requests_total    # " << plan.workloads[0].workload.name
      << "'s sidecar\n";
  }
  o << "\nEdit the YAML in " << shown(plan.dir) << " while it runs: changes apply within a second. "
    << (detached ? "halyard down" : "Ctrl-C") << " stops everything.\n";
  std::cout << o.str() << std::flush;
}

// --detach: the supervisor goes on in a child in its own session. Until the mesh is up its
// output comes to us through a pipe, so the caller sees the table (or why the start failed);
// afterwards it writes to halyard-up.log in the log directory. Only the child returns; the
// parent exits with the start's outcome.
void detach(const up::UpPlan& plan) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t pid = ::fork();
  if (pid > 0) {
    ::close(fds[1]);
    std::string seen;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
      std::cout.write(buf, n);
      seen.append(buf, static_cast<size_t>(n));
    }
    std::cout << std::flush;
    const bool up = seen.find("is running") != std::string::npos;
    if (up) std::cout << "Detached. Stop it with: halyard down --log-dir " << plan.log_dir << "\n";
    std::exit(up ? 0 : kExitFailed);
  }
  ::close(fds[0]);
  if (pid < 0) return;
  ::setsid();  // no terminal: Ctrl-C in the caller's shell no longer reaches it
  ::dup2(fds[1], 1);
  ::dup2(fds[1], 2);
  ::close(fds[1]);
  std::ofstream(kLastDetachedFile) << plan.log_dir << "\n";
}

// After the table: the detached supervisor's output goes to its log, and the pipe closes.
void redirectToLog(const up::UpPlan& plan) {
  const std::string path = plan.log_dir + "/halyard-up.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  ::close(fd);
}

// A bootstrap credential for every proxy, bound to its namespace and service account, written
// where its --token-file points (0600) before anything starts. The CA directory's token key
// signs them; the control plane checks them against it.
bool writeCredentials(const up::UpPlan& plan) {
  auto tokens = control::ca::BootstrapTokens::open(plan.ca_dir);
  if (!tokens) {
    std::cerr << "halyard up: " << tokens.error().message << "\n";
    return false;
  }
  std::error_code ec;
  fs::create_directories(plan.log_dir + "/credentials", ec);
  fs::permissions(plan.log_dir + "/credentials", fs::perms::owner_all, ec);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto write = [&](const std::string& name, const std::string& ns, const std::string& sa) {
    auto token = tokens->create(ns, sa, 0, now);
    if (!token) {
      std::cerr << "halyard up: a credential for " << name << ": " << token.error().message << "\n";
      return false;
    }
    const std::string path = up::credentialPath(plan, name);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const std::string line = *token + "\n";
    const bool ok =
        fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    if (fd >= 0) ::close(fd);
    if (!ok) std::cerr << "halyard up: cannot write " << path << "\n";
    return ok;
  };
  for (const auto& gw : plan.gateways) {
    if (!write(gw.name, gw.namespace_, gw.service_account)) return false;
  }
  for (const auto& wp : plan.workloads) {
    const up::Workload& w = wp.workload;
    if (!write(w.name + ".sidecar", w.namespace_, w.service_account)) return false;
  }
  return true;
}

int runUp(const UpFlags& flags) {
  // Before anything else: signals are taken with sigtimedwait by the supervisor, and every
  // child unblocks them again.
  up::Supervisor::blockSignals();
  up::UpOptions options;
  options.dir = flags.dir;
  options.port_maps = flags.port_maps;
  options.base_port = flags.base_port;
  options.log_dir = flags.log_dir;
  options.ca_dir = flags.ca_dir;
  options.workload_cert_ttl = flags.workload_cert_ttl;
  auto plan = up::makePlan(options);
  if (!plan) {
    std::cerr << "halyard up: nothing was started; fix these first:\n";
    for (const auto& p : plan.error()) std::cerr << "  " << p << "\n";
    std::cerr << "Then run halyard up again (halyard analyze " << flags.dir
              << " checks the Istio configuration alone).\n";
    return kExitFailed;
  }
  if (flags.detach) detach(*plan);
  for (const auto& w : plan->warnings) std::cout << "warning: " << w << "\n";
  if (!writeCredentials(*plan)) return kExitFailed;
  std::vector<up::ProcessSpec> specs = up::processSpecs(*plan, environ);
  if (flags.no_trace_collector) {
    // The control plane (the first spec) is then no implicit tracing provider.
    auto& argv = specs.front().argv;
    argv.erase(std::remove(argv.begin(), argv.end(), "--trace-collector"), argv.end());
  }
  std::optional<PrometheusLaunch> prometheus;
  if (flags.prometheus) {
    auto launch = preparePrometheus(*plan, flags.prometheus_options, environ);
    if (!launch) {
      std::cerr << "halyard up: nothing was started: " << launch.error() << "\n";
      return kExitFailed;
    }
    prometheus = std::move(*launch);
    specs.push_back(prometheus->spec);  // last: the table's indexes of the others stay
    if (flags.dashboard_source != "scrape") {
      // The control plane (the first spec) reads the dashboard's metrics from it.
      specs.front().argv.insert(specs.front().argv.end(), {"--prometheus-url", prometheus->url});
    }
  } else if (flags.dashboard_source == "prometheus") {
    std::cerr << "halyard up: nothing was started: --dashboard-source prometheus needs "
                 "--prometheus\n";
    return kExitFailed;
  }
  const PrometheusLaunch* prom = prometheus ? &*prometheus : nullptr;
  up::Supervisor sup(std::move(specs), std::cout);
  sup.on_change = [&] { writeState(*plan, sup, prom); };
  std::cout << "halyard up: starting " << plan->workloads.size() << " workloads from "
            << shown(plan->dir) << " (logs in " << plan->log_dir << ")" << std::endl;
  if (!sup.start()) {
    if (!sup.failed()) {
      std::cout << "halyard up: stopped before the mesh was up." << std::endl;
      return 0;
    }
    std::cout << "halyard up: start failed; everything it started is stopped (logs in "
              << plan->log_dir << ")" << std::endl;
    return kExitFailed;
  }
  printTable(*plan, sup, flags.detach, prom);
  if (flags.detach) redirectToLog(*plan);
  int code = sup.run();
  std::cout << "halyard up: stopped; nothing is left running." << std::endl;
  return code;
}

// The pid of the `halyard up` that wrote log_dir/state.json, if it still runs (checked by its
// command line, so a reused pid is never signalled).
pid_t runningUp(const std::string& log_dir) {
  std::ifstream in(log_dir + "/state.json");
  nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
  if (state.is_discarded() || !state.contains("halyard_pid")) return 0;
  const auto pid = state["halyard_pid"].get<pid_t>();
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find(std::string("up\0", 3)) != std::string::npos ? pid : 0;
}

int runDown(std::string log_dir) {
  if (log_dir.empty()) std::ifstream(kLastDetachedFile) >> log_dir;
  if (log_dir.empty()) {
    std::cerr << "halyard down: no detached halyard up is known; give --log-dir DIR\n";
    return kExitFailed;
  }
  const pid_t pid = runningUp(log_dir);
  if (pid == 0) {
    std::cerr << "halyard down: no halyard up is running with logs in " << log_dir << "\n";
    return kExitFailed;
  }
  ::kill(pid, SIGTERM);
  // Bounded by halyard up's own stop bounds (5 + 10 + 5 s) plus a margin.
  for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i) ::usleep(100'000);
  if (::kill(pid, 0) == 0) {
    std::cerr << "halyard down: halyard up (pid " << pid << ") is still stopping; see " << log_dir
              << "/halyard-up.log\n";
    return kExitFailed;
  }
  std::cout << "halyard down: stopped the mesh (pid " << pid << "; logs in " << log_dir << ")\n";
  return 0;
}

}  // namespace

void registerUpCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<UpFlags>();
  auto* cmd = app.add_subcommand(
      "up",
      "Run a mesh on this machine: the control plane, the ingress gateway(s) and every Workload "
      "in DIR with its sidecar, until Ctrl-C");
  cmd->add_option("dir", flags->dir, "Directory of Istio YAML, Services and Workloads (watched)")
      ->required();
  cmd->add_option("--port-map", flags->port_maps,
                  "GATEWAY_PORT=LOCAL_PORT for the ingress gateway (repeatable)")
      ->capture_default_str();
  cmd->add_option("--base-port", flags->base_port,
                  "First of the ports halyard up picks (gateway admin +0, control plane +10/+11, "
                  "sidecars +100..); 0: ports the kernel picks")
      ->capture_default_str();
  cmd->add_option("--log-dir", flags->log_dir,
                  "Directory for the processes' logs (default: a new /tmp/halyard-up-PID)");
  cmd->add_option("--ca-dir", flags->ca_dir,
                  "The mesh CA: Istio's plug-in CA files (ca-cert.pem, ca-key.pem, root-cert.pem, "
                  "cert-chain.pem) or, when absent, a self-signed root made there and reused "
                  "(default: LOG_DIR/ca)");
  cmd->add_option("--workload-cert-ttl", flags->workload_cert_ttl,
                  "Lifetime of the workload certificates (24h, 90m, ...); proxies rotate at "
                  "about half of it")
      ->capture_default_str()
      ->check([](const std::string& v) -> std::string {
        auto d = control::ca::parseDuration(v);
        if (!d) return d.error().message;
        return d->count() > 0 ? "" : "the workload certificate lifetime must be positive";
      });
  cmd->add_flag("--detach,-d", flags->detach,
                "Run in the background once the mesh is up (stop it with halyard down)");
  cmd->add_flag("--prometheus", flags->prometheus,
                "Also run Prometheus (Debian's), scraping every proxy and the control plane "
                "through the control plane's /sd/prometheus, with the rules of deploy/prometheus; "
                "its URL is printed");
  cmd->add_option("--prometheus-port", flags->prometheus_options.port,
                  "The port Prometheus listens on (127.0.0.1); 0: a free one")
      ->capture_default_str();
  cmd->add_option("--prometheus-rules", flags->prometheus_options.rules_dir,
                  "Directory of the rule files Prometheus loads (default: deploy/prometheus)");
  cmd->add_option("--prometheus-interval", flags->prometheus_options.scrape_interval,
                  "Scrape and rule evaluation interval (Prometheus duration)")
      ->capture_default_str();
  cmd->add_flag("--no-trace-collector", flags->no_trace_collector,
                "Do not make the control plane the proxies' Zipkin collector (by default it is, "
                "at 1% sampling, while MeshConfig declares no tracing provider)");
  cmd->add_option("--dashboard-source", flags->dashboard_source,
                  "Where the dashboard reads the mesh's metrics: scrape (the control plane scrapes "
                  "every proxy), prometheus (the query API of --prometheus), auto (prometheus "
                  "with --prometheus, else scrape)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "scrape", "prometheus"}));
  cmd->callback([flags, &exit_code] { exit_code = runUp(*flags); });

  auto down_dir = std::make_shared<std::string>();
  auto* down = app.add_subcommand("down", "Stop a mesh started with halyard up --detach");
  down->add_option("--log-dir", *down_dir,
                   "The log directory of that halyard up (default: the last one detached)");
  down->callback([down_dir, &exit_code] { exit_code = runDown(*down_dir); });
}

}  // namespace halyard::cli
