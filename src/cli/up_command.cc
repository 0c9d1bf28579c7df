#include "cli/up_command.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "up/supervisor.h"
#include "up/up_plan.h"

extern char** environ;

namespace halyard::cli {

namespace {

namespace fs = std::filesystem;
using up::ProcessSpec;
using up::Role;

constexpr int kExitFailed = 1;  // validation, usage or start errors (docs/halyard-up.md)

struct UpFlags {
  std::string dir;
  std::vector<std::string> port_maps = {"80=8080"};
  uint16_t base_port = 15000;
  std::string log_dir;
};

std::string loopback(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

std::string labelList(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

// The environment of halyard up, with `overrides` replacing variables of the same name.
std::vector<std::string> environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : overrides) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Kubernetes' $(VAR) references in a command or env value, from the variables set so far.
std::string expand(const std::string& s,
                   const std::vector<std::pair<std::string, std::string>>& vars) {
  auto lookup = [&](const std::string& name) -> const std::string* {
    for (auto it = vars.rbegin(); it != vars.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
    return nullptr;
  };
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t close = s.compare(i, 2, "$(") == 0 ? s.find(')', i + 2) : std::string::npos;
    const std::string* value =
        close == std::string::npos ? nullptr : lookup(s.substr(i + 2, close - i - 2));
    if (value) {
      out += *value;
      i = close + 1;
    } else {
      out += s[i++];  // unknown references stay as written, as in Kubernetes
    }
  }
  return out;
}

std::vector<ProcessSpec> processSpecs(const up::UpPlan& plan) {
  std::vector<ProcessSpec> specs;
  const std::vector<std::string> plain_env = environment({});
  auto log = [&](const std::string& name) { return plan.log_dir + "/" + name + ".log"; };

  ProcessSpec control;
  control.name = "control-plane";
  control.role = Role::kControl;
  control.program = plan.halyard_binary;
  control.argv = {plan.halyard_binary, "control", "--config", plan.dir, "--listen",
                  loopback(plan.control_port), "--admin", loopback(plan.control_admin_port)};
  control.env = plain_env;
  control.cwd = plan.dir;
  control.log_path = log(control.name);
  control.ready_port = plan.control_admin_port;
  specs.push_back(std::move(control));

  for (const auto& gw : plan.gateways) {
    ProcessSpec p;
    p.name = gw.name;
    p.role = Role::kGateway;
    p.program = plan.proxy_binary;
    p.argv = {plan.proxy_binary, "--control", loopback(plan.control_port), "--role", "gateway",
              "--name", gw.name, "--namespace", gw.namespace_};
    if (!gw.labels.empty()) p.argv.insert(p.argv.end(), {"--labels", labelList(gw.labels)});
    for (const auto& [from, to] : gw.port_map) {
      p.argv.insert(p.argv.end(), {"--port-map", std::to_string(from) + "=" + std::to_string(to)});
    }
    p.argv.insert(p.argv.end(), {"--admin", loopback(gw.admin_port)});
    p.env = plain_env;
    p.cwd = "/";
    p.log_path = log(gw.name);
    p.ready_port = gw.admin_port;
    p.after = 0;
    specs.push_back(std::move(p));
  }

  for (const auto& wp : plan.workloads) {
    const up::Workload& w = wp.workload;
    ProcessSpec sidecar;
    sidecar.name = w.name + ".sidecar";
    sidecar.role = Role::kSidecar;
    sidecar.program = plan.proxy_binary;
    sidecar.argv = {plan.proxy_binary, "--control", loopback(plan.control_port), "--role",
                    "sidecar", "--workload", w.name, "--namespace", w.namespace_};
    if (!w.labels.empty()) sidecar.argv.insert(sidecar.argv.end(), {"--labels", labelList(w.labels)});
    sidecar.argv.insert(sidecar.argv.end(),
                        {"--service-account", w.service_account, "--app-port",
                         std::to_string(w.port), "--inbound-port", std::to_string(wp.inbound_port),
                         "--outbound-port", std::to_string(wp.outbound_port), "--admin",
                         loopback(wp.admin_port), "--workers", "1"});  // one app's traffic
    sidecar.env = plain_env;
    sidecar.cwd = "/";
    sidecar.log_path = log(sidecar.name);
    sidecar.ready_port = wp.admin_port;
    sidecar.after = 0;
    const int sidecar_index = static_cast<int>(specs.size());
    specs.push_back(std::move(sidecar));

    const std::string proxy_url = "http://" + loopback(wp.outbound_port);
    std::vector<std::pair<std::string, std::string>> vars = {
        {"PORT", std::to_string(w.port)},
        {"HTTP_PROXY", proxy_url},
        {"http_proxy", proxy_url},
        {"NO_PROXY", "localhost,127.0.0.1"},
        {"no_proxy", "localhost,127.0.0.1"},
        {"HALYARD_WORKLOAD", w.name},
        {"HALYARD_NAMESPACE", w.namespace_},
    };
    for (const auto& [k, v] : w.env) vars.emplace_back(k, expand(v, vars));
    ProcessSpec app;
    app.name = w.name;
    app.role = Role::kApp;
    app.program = wp.program;
    for (const auto& a : w.command) app.argv.push_back(expand(a, vars));
    app.env = environment(vars);
    app.cwd = w.working_dir;
    app.log_path = log(w.name);
    app.ready_port = w.port;
    app.after = sidecar_index;
    app.sidecar = sidecar_index;
    specs.push_back(std::move(app));
  }
  return specs;
}

// Where things run, as JSON next to the logs (for scripts and tests); rewritten on every change.
void writeState(const up::UpPlan& plan, const up::Supervisor& sup) {
  nlohmann::json j;
  j["dir"] = plan.dir;
  j["log_dir"] = plan.log_dir;
  j["halyard_pid"] = ::getpid();
  j["control"] = {{"listen", loopback(plan.control_port)},
                  {"admin", loopback(plan.control_admin_port)}};
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

void printTable(const up::UpPlan& plan, const up::Supervisor& sup) {
  auto pid = [&](size_t i) { return std::to_string(sup.states()[i].pid); };
  auto file = [&](size_t i) { return fs::path(sup.specs()[i].log_path).filename().string(); };
  std::ostringstream o;
  o << "\nThe mesh from " << shown(plan.dir) << " is running. Logs: " << plan.log_dir << "/\n\n";
  o << std::left << std::setw(22) << "PROCESS" << std::setw(9) << "PID" << std::setw(40)
    << "LISTENS" << std::setw(26) << "ADMIN" << "LOG\n";
  o << std::setw(22) << "control-plane" << std::setw(9) << pid(0) << std::setw(40)
    << "grpc " + loopback(plan.control_port) << std::setw(26)
    << "http://" + loopback(plan.control_admin_port) << file(0) << "\n";
  for (size_t g = 0; g < plan.gateways.size(); ++g) {
    const auto& gw = plan.gateways[g];
    std::string ports;
    for (const auto& [from, to] : gw.port_map) {
      ports += (ports.empty() ? "" : ", ") + std::to_string(from) + " on localhost:" +
               std::to_string(to);
    }
    o << std::setw(22) << gw.name << std::setw(9) << pid(1 + g) << std::setw(40)
      << "gateway " + ports << std::setw(26) << "http://" + loopback(gw.admin_port)
      << file(1 + g) << "\n";
  }
  o << "\n"
    << std::setw(16) << "WORKLOAD" << std::setw(8) << "PID" << std::setw(10) << "APP PORT"
    << std::setw(13) << "SIDECAR PID" << std::setw(9) << "INBOUND" << std::setw(10) << "OUTBOUND"
    << std::setw(26) << "SIDECAR ADMIN" << "LOGS (app, sidecar)\n";
  size_t i = 1 + plan.gateways.size();
  for (const auto& wp : plan.workloads) {
    o << std::setw(16) << wp.workload.name << std::setw(8) << pid(i + 1) << std::setw(10)
      << wp.workload.port << std::setw(13) << pid(i) << std::setw(9) << wp.inbound_port
      << std::setw(10) << wp.outbound_port << std::setw(26) << "http://" + loopback(wp.admin_port)
      << file(i + 1) + ", " + file(i) << "\n";
    i += 2;
  }
  if (!plan.tries.empty()) o << "\nTry:\n";
  for (const auto& t : plan.tries) {
    std::string line = "  curl -H 'Host: " + t.host + "' localhost:" +
                       std::to_string(t.local_port) + t.path;
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
  o << "\nEdit the YAML in " << shown(plan.dir)
    << " while it runs: changes apply within a second. Ctrl-C stops everything.\n";
  std::cout << o.str() << std::flush;
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
  auto plan = up::makePlan(options);
  if (!plan) {
    std::cerr << "halyard up: nothing was started; fix these first:\n";
    for (const auto& p : plan.error()) std::cerr << "  " << p << "\n";
    return kExitFailed;
  }
  for (const auto& w : plan->warnings) std::cout << "warning: " << w << "\n";
  up::Supervisor sup(processSpecs(*plan), std::cout);
  sup.on_change = [&] { writeState(*plan, sup); };
  std::cout << "halyard up: starting " << plan->workloads.size() << " workloads from "
            << shown(plan->dir) << " (logs in " << plan->log_dir << ")" << std::endl;
  if (!sup.start()) {
    std::cerr << "halyard up: start failed; everything it started is stopped (logs in "
              << plan->log_dir << ")\n";
    return kExitFailed;
  }
  printTable(*plan, sup);
  int code = sup.run();
  std::cout << "halyard up: stopped; nothing is left running." << std::endl;
  return code;
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
  cmd->callback([flags, &exit_code] { exit_code = runUp(*flags); });
}

}  // namespace halyard::cli
