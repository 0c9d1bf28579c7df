#include "up/process_specs.h"

#include <map>
#include <utility>

namespace halyard::up {

namespace {

using Vars = std::vector<std::pair<std::string, std::string>>;

std::string loopback(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::string labelList(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

// The base environment with `overrides` replacing variables of the same name.
std::vector<std::string> environment(char* const* base, const Vars& overrides) {
  std::map<std::string, std::string> env;
  for (char* const* e = base; e && *e; ++e) {
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
std::string expand(const std::string& s, const Vars& vars) {
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

// HALYARD_PROXY_WRAPPER (UpPlan::proxy_wrapper): the proxy runs through it, e.g. under a tool.
void wrapProxy(const UpPlan& plan, ProcessSpec& p) {
  if (plan.proxy_wrapper.empty()) return;
  p.program = plan.proxy_wrapper;
  p.argv.insert(p.argv.begin(), plan.proxy_wrapper);
}

}  // namespace

std::vector<ProcessSpec> processSpecs(const UpPlan& plan, char* const* base_env) {
  std::vector<ProcessSpec> specs;
  const std::vector<std::string> plain_env = environment(base_env, {});
  auto log = [&](const std::string& name) { return plan.log_dir + "/" + name + ".log"; };

  ProcessSpec control;
  control.name = "control-plane";
  control.role = Role::kControl;
  control.program = plan.halyard_binary;
  control.argv = {plan.halyard_binary, "control", "--config", plan.dir, "--listen",
                  loopback(plan.control_port), "--admin", loopback(plan.control_admin_port),
                  "--ca-dir", plan.ca_dir, "--workload-cert-ttl", plan.workload_cert_ttl,
                  // The dashboard's recent traces when the mesh names no tracing provider.
                  "--trace-collector"};
  // Every proxy proves who it is with the credential written for it, and trusts the control
  // plane only with the mesh root.
  auto credentials = [&](ProcessSpec& p) {
    p.argv.insert(p.argv.end(), {"--token-file", credentialPath(plan, p.name), "--control-ca",
                                 rootCertPath(plan)});
  };
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
    p.argv = {plan.proxy_binary,
              "--control",
              loopback(plan.control_port),
              "--role",
              "gateway",
              "--name",
              gw.name,
              "--namespace",
              gw.namespace_,
              "--service-account",
              gw.service_account};
    if (!gw.labels.empty()) p.argv.insert(p.argv.end(), {"--labels", labelList(gw.labels)});
    for (const auto& [from, to] : gw.port_map) {
      p.argv.insert(p.argv.end(), {"--port-map", std::to_string(from) + "=" + std::to_string(to)});
    }
    p.argv.insert(p.argv.end(), {"--admin", loopback(gw.admin_port)});
    credentials(p);
    wrapProxy(plan, p);
    p.env = plain_env;
    p.cwd = "/";
    p.log_path = log(gw.name);
    p.ready_port = gw.admin_port;
    p.after = 0;
    specs.push_back(std::move(p));
  }

  for (const auto& wp : plan.workloads) {
    const Workload& w = wp.workload;
    ProcessSpec sidecar;
    sidecar.name = w.name + ".sidecar";
    sidecar.role = Role::kSidecar;
    sidecar.program = plan.proxy_binary;
    sidecar.argv = {plan.proxy_binary,
                    "--control",
                    loopback(plan.control_port),
                    "--role",
                    "sidecar",
                    "--workload",
                    w.name,
                    "--namespace",
                    w.namespace_};
    if (!w.labels.empty())
      sidecar.argv.insert(sidecar.argv.end(), {"--labels", labelList(w.labels)});
    sidecar.argv.insert(sidecar.argv.end(),
                        {"--service-account", w.service_account, "--app-port",
                         std::to_string(w.port), "--inbound-port", std::to_string(wp.inbound_port),
                         "--outbound-port", std::to_string(wp.outbound_port), "--admin",
                         loopback(wp.admin_port), "--workers", "1"});  // one app's traffic
    credentials(sidecar);
    wrapProxy(plan, sidecar);
    sidecar.env = plain_env;
    sidecar.cwd = "/";
    sidecar.log_path = log(sidecar.name);
    sidecar.ready_port = wp.admin_port;
    sidecar.after = 0;
    const int sidecar_index = static_cast<int>(specs.size());
    specs.push_back(std::move(sidecar));

    const std::string proxy_url = "http://" + loopback(wp.outbound_port);
    Vars vars = {
        {"PORT", std::to_string(w.port)},    {"HTTP_PROXY", proxy_url},
        {"http_proxy", proxy_url},           {"NO_PROXY", "localhost,127.0.0.1"},
        {"no_proxy", "localhost,127.0.0.1"}, {"HALYARD_WORKLOAD", w.name},
        {"HALYARD_NAMESPACE", w.namespace_},
    };
    for (const auto& [k, v] : w.env) vars.emplace_back(k, expand(v, vars));
    ProcessSpec app;
    app.name = w.name;
    app.role = Role::kApp;
    app.program = wp.program;
    for (const auto& a : w.command) app.argv.push_back(expand(a, vars));
    app.env = environment(base_env, vars);
    app.cwd = w.working_dir;
    app.log_path = log(w.name);
    app.ready_port = w.port;
    app.after = sidecar_index;
    app.sidecar = sidecar_index;
    specs.push_back(std::move(app));
  }
  return specs;
}

}  // namespace halyard::up
