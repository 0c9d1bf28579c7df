#include "up/up_plan.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "config/model/host_name.h"
#include "config/validate/analyze.h"
#include "config/yaml/kube_decode.h"
#include "config/yaml/loader.h"
#include "up/port_allocator.h"

namespace halyard::up {

namespace {

namespace fs = std::filesystem;
using config::Object;
using Problems = std::vector<std::string>;

// Port layout from the base (docs/halyard-up.md): base+0.. gateway admins, base+10 control
// plane, base+11 its admin, base+100.. three per sidecar (inbound, outbound, admin).
constexpr uint16_t kControlOffset = 10;
constexpr uint16_t kControlAdminOffset = 11;
constexpr uint16_t kSidecarOffset = 100;

std::string diagnosticLine(const config::Diagnostic& d) {
  std::string out = d.pos.str();
  if (!d.resource.kind.empty()) {
    // As `halyard analyze` names it: a namespace-less object is in "default".
    out += (out.empty() ? "" : " ") + std::string("(") + d.resource.kind + " " +
           (d.resource.namespace_.empty() ? "default" : d.resource.namespace_) + "/" +
           d.resource.name + ")";
  }
  return out + ": [" + d.code + "] " + d.message;
}

bool executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// command[0] as execvp would find it: a path (relative to the working directory) or a name on
// PATH.
common::Result<std::string, std::string> resolveProgram(const Workload& w) {
  const std::string& prog = w.command.at(0);
  if (prog.find('/') != std::string::npos) {
    fs::path p = fs::path(prog).is_absolute() ? fs::path(prog) : fs::path(w.working_dir) / prog;
    p = p.lexically_normal();
    if (executable(p)) return p.string();
    std::error_code ec;
    return common::unexpected(fs::exists(p, ec) ? "\"" + p.string() +
                                                      "\" is not an executable file (chmod +x it?)"
                                                : "\"" + p.string() + "\" does not exist");
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    fs::path dir = path.substr(start, end - start);
    if (!dir.empty() && executable(dir / prog)) return (dir / prog).string();
    start = end + 1;
  }
  return common::unexpected("\"" + prog + "\" is not found on PATH (" + path +
                            "); give its absolute path or install it");
}

std::string selfPath() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("halyard") : self.string();
}

struct GatewayGroup {
  std::map<std::string, std::string> selector;
  std::set<uint16_t> ports;        // server ports of its Gateways
  std::set<std::string> gateways;  // "namespace/name" of its Gateways
  std::vector<std::string> hosts;  // its servers' hosts, without a "namespace/" prefix
};

// A Gateway server host ("*", "*.example.com", "shop.example.com") accepts a VirtualService host.
bool serverAccepts(std::string_view server, std::string_view host) {
  if (server == "*" || server == host) return true;
  return server.starts_with("*.") && host.size() > server.size() - 1 &&
         host.ends_with(server.substr(1));
}

// One gateway process per distinct Gateway selector, as a cluster would run one deployment per
// gateway label set.
std::vector<GatewayGroup> gatewayGroups(const std::vector<Object>& objects) {
  std::vector<GatewayGroup> groups;
  for (const Object& obj : objects) {
    if (obj.kind != "Gateway" || obj.group != "networking.istio.io") continue;
    const config::Node* spec = obj.spec();
    if (!spec) continue;
    GatewayGroup g;
    g.gateways.insert(obj.namespaceOrDefault() + "/" + obj.name);
    if (const config::Node* sel = spec->get("selector"); sel && sel->isMap()) {
      for (const auto& e : sel->fields)
        g.selector[e.key] = std::string(e.value.asText().value_or(""));
    }
    if (const config::Node* servers = spec->get("servers"); servers && servers->isList()) {
      for (const auto& s : servers->items) {
        const config::Node* port = s.get("port");
        const config::Node* number = port ? port->get("number") : nullptr;
        if (auto n = number ? number->asInt() : std::nullopt; n && *n > 0 && *n < 65536) {
          g.ports.insert(static_cast<uint16_t>(*n));
        }
        if (const config::Node* hosts = s.get("hosts"); hosts && hosts->isList()) {
          for (const auto& h : hosts->items) {
            std::string host(h.asText().value_or(""));
            if (const size_t slash = host.find('/'); slash != std::string::npos) {
              host.erase(0, slash + 1);
            }
            g.hosts.push_back(std::move(host));
          }
        }
      }
    }
    bool merged = false;
    for (auto& existing : groups) {
      if (existing.selector == g.selector) {
        existing.ports.insert(g.ports.begin(), g.ports.end());
        existing.gateways.insert(g.gateways.begin(), g.gateways.end());
        existing.hosts.insert(existing.hosts.end(), g.hosts.begin(), g.hosts.end());
        merged = true;
      }
    }
    if (!merged) groups.push_back(std::move(g));
  }
  return groups;
}

std::string gatewayName(const std::map<std::string, std::string>& selector, size_t index) {
  if (auto it = selector.find("istio"); it != selector.end() && selector.size() == 1) {
    return "istio-" +
           it->second;  // istio=ingressgateway -> istio-ingressgateway, as Istio names it
  }
  return "gateway-" + std::to_string(index + 1);
}

common::Result<std::map<uint16_t, uint16_t>, std::string> parsePortMaps(
    const std::vector<std::string>& maps) {
  std::map<uint16_t, uint16_t> out;
  for (const std::string& m : maps) {
    size_t eq = m.find('=');
    char* end = nullptr;
    long from = eq == std::string::npos ? 0 : std::strtol(m.c_str(), &end, 10);
    bool ok = eq != std::string::npos && end == m.c_str() + eq;
    long to = ok ? std::strtol(m.c_str() + eq + 1, &end, 10) : 0;
    ok = ok && *end == '\0' && from > 0 && from < 65536 && to > 0 && to < 65536;
    if (!ok) {
      return common::unexpected("--port-map \"" + m +
                                "\": expected GATEWAY_PORT=LOCAL_PORT, such as 80=8080");
    }
    out[static_cast<uint16_t>(from)] = static_cast<uint16_t>(to);
  }
  return out;
}

std::string scalar(const config::Node* n) {
  return n ? std::string(n->asText().value_or("")) : std::string();
}

// One curl line per HTTP route of every VirtualService bound to a gateway: its first host, the
// path of its first uri match, and where it goes.
void addTries(const std::vector<Object>& objects, const GatewayGroup& group, const GatewayPlan& gw,
              std::vector<TryLine>& out) {
  if (gw.port_map.empty()) return;
  const uint16_t local = gw.port_map.front().second;
  for (const Object& obj : objects) {
    if (obj.kind != "VirtualService" || obj.group != "networking.istio.io" || !obj.spec()) continue;
    const config::Node* spec = obj.spec();
    const config::Node* gateways = spec->get("gateways");
    const config::Node* hosts = spec->get("hosts");
    if (!gateways || !gateways->isList() || !hosts || !hosts->isList() || hosts->items.empty()) {
      continue;
    }
    bool bound = false;
    for (const auto& g : gateways->items) {
      std::string ref = scalar(&g);
      if (ref.find('/') == std::string::npos) ref = obj.namespaceOrDefault() + "/" + ref;
      bound |= group.gateways.count(ref) > 0;
    }
    // The first host the gateway's servers take (a VirtualService bound to the mesh too may
    // list a service's short name first).
    std::string host;
    for (const auto& h : hosts->items) {
      const std::string candidate = scalar(&h);
      if (candidate.find('*') != std::string::npos) continue;
      bool accepted = false;
      for (const auto& server : group.hosts) accepted |= serverAccepts(server, candidate);
      if (accepted) {
        host = candidate;
        break;
      }
    }
    const config::Node* http = spec->get("http");
    if (!bound || host.empty() || !http || !http->isList()) continue;
    for (const auto& route : http->items) {
      TryLine t{host, local, "/", ""};
      if (const config::Node* match = route.get("match");
          match && match->isList() && !match->items.empty()) {
        if (const config::Node* uri = match->items.front().get("uri")) {
          for (const char* kind : {"prefix", "exact"}) {
            if (const config::Node* v = uri->get(kind)) t.path = scalar(v);
          }
        }
      }
      if (const config::Node* dests = route.get("route"); dests && dests->isList()) {
        for (const auto& d : dests->items) {
          const config::Node* dest = d.get("destination");
          if (!t.destinations.empty()) t.destinations += ", ";
          t.destinations += scalar(dest ? dest->get("host") : nullptr);
          if (const std::string subset = scalar(dest ? dest->get("subset") : nullptr);
              !subset.empty()) {
            t.destinations += " (subset " + subset + ")";
          }
          if (const config::Node* w = d.get("weight"); w && dests->items.size() > 1) {
            t.destinations += " " + scalar(w) + "%";
          }
        }
      }
      out.push_back(std::move(t));
    }
  }
}

void checkServices(const std::vector<Object>& objects, const WorkloadSet& set, Problems& out) {
  for (const Workload& w : set.workloads) {
    if (w.service.empty()) continue;
    const Object* found = nullptr;
    for (const Object& obj : objects) {
      if (obj.kind == "Service" && obj.group.empty() && obj.name == w.service &&
          obj.namespaceOrDefault() == w.namespace_) {
        found = &obj;
      }
    }
    const std::string where = w.service_pos.str() + ": spec.service: ";
    if (!found) {
      out.push_back(where + "no Service \"" + w.service + "\" in namespace " + w.namespace_ +
                    " in this directory; add one with a selector matching the workload's labels");
      continue;
    }
    auto svc = config::decodeService(*found);
    if (svc.selector.empty() || !config::model::selectorMatches(svc.selector, w.labels)) {
      out.push_back(where + "Service " + w.service + " (" + found->pos.str() + ") selects {" +
                    config::model::selectorText(svc.selector) +
                    "}, which does not match the labels {" + config::model::selectorText(w.labels) +
                    "} of this workload, so it would get no traffic; fix the selector or labels");
    }
  }
}

}  // namespace

common::Result<UpPlan, Problems> makePlan(const UpOptions& options) {
  Problems problems;
  UpPlan plan;
  std::error_code ec;
  if (!fs::is_directory(options.dir, ec)) {
    return common::unexpected(Problems{"\"" + options.dir + "\" is not a directory"});
  }
  plan.dir = fs::absolute(options.dir).lexically_normal().string();
  if (plan.dir.size() > 1 && plan.dir.back() == '/') plan.dir.pop_back();

  // The same analysis as `halyard analyze DIR`: errors stop us, warnings are shown.
  config::AnalyzeResult analysis = config::analyzePaths({plan.dir}, {});
  for (const auto& e : analysis.io_errors) problems.push_back(e);
  for (const auto& d : analysis.diagnostics) {
    if (d.level == config::Level::kError) {
      problems.push_back(diagnosticLine(d));
    } else if (d.level == config::Level::kWarning) {
      plan.warnings.push_back(diagnosticLine(d));
    }
  }

  config::LoadResult loaded = config::loadPaths({plan.dir});
  WorkloadSet set = decodeWorkloads(loaded.objects);
  for (const auto& p : set.problems) problems.push_back(p.str());
  checkServices(loaded.objects, set, problems);

  PortAllocator ports(options.base_port);
  for (const Workload& w : set.workloads) {
    WorkloadPlan wp{w, {}, 0, 0, 0};
    if (!w.command.empty()) {
      std::error_code dir_ec;
      if (!fs::is_directory(w.working_dir, dir_ec)) {
        problems.push_back(w.working_dir_pos.str() + ": spec.workingDir: \"" + w.working_dir +
                           "\" is not a directory");
      } else if (auto prog = resolveProgram(w); prog) {
        wp.program = *prog;
      } else {
        problems.push_back(w.command_pos.str() + ": spec.command[0]: " + prog.error());
      }
    }
    if (w.port != 0) {
      ports.reserve(w.port);
      if (!portFree(w.port)) {
        problems.push_back("port " + std::to_string(w.port) + " of workload " + w.name + " (" +
                           w.port_pos.str() + ") is in use: stop what listens there (ss -ltnp " +
                           "'sport = :" + std::to_string(w.port) + "') or change its spec.port");
      }
    }
    plan.workloads.push_back(std::move(wp));
  }

  auto port_map = parsePortMaps(options.port_maps);
  if (!port_map) {
    problems.push_back(port_map.error());
    port_map = std::map<uint16_t, uint16_t>{};
  }
  std::vector<GatewayGroup> groups = gatewayGroups(loaded.objects);
  for (size_t i = 0; i < groups.size(); ++i) {
    GatewayPlan gw;
    gw.name = gatewayName(groups[i].selector, i);
    gw.labels = groups[i].selector;
    for (uint16_t server_port : groups[i].ports) {
      uint16_t local = 0;
      if (i == 0) {
        // The first gateway serves where the user asked (default 80 on 8080); ports without a
        // mapping keep their number, as halyard-proxy does.
        auto it = port_map->find(server_port);
        local = it == port_map->end() ? server_port : it->second;
        ports.reserve(local);
        if (!portFree(local)) {
          problems.push_back("port " + std::to_string(local) + " (Gateway port " +
                             std::to_string(server_port) + " of " + gw.name +
                             ") is in use: stop what listens there or pick another with " +
                             "--port-map " + std::to_string(server_port) + "=PORT");
        }
      } else if (auto p = ports.take(static_cast<uint16_t>(kSidecarOffset - 50 + i))) {
        local = *p;  // further gateways: free ports, shown in the table
      } else {
        problems.push_back(p.error());
      }
      gw.port_map.emplace_back(server_port, local);
    }
    addTries(loaded.objects, groups[i], gw, plan.tries);
    plan.gateways.push_back(std::move(gw));
  }

  auto take = [&](uint16_t offset) -> uint16_t {
    auto p = ports.take(offset);
    if (!p) {
      problems.push_back(p.error());
      return 0;
    }
    return *p;
  };
  plan.control_port = take(kControlOffset);
  plan.control_admin_port = take(kControlAdminOffset);
  for (size_t i = 0; i < plan.gateways.size(); ++i) {
    plan.gateways[i].admin_port = take(static_cast<uint16_t>(i));
  }
  for (size_t i = 0; i < plan.workloads.size(); ++i) {
    auto base = static_cast<uint16_t>(kSidecarOffset + 3 * i);
    plan.workloads[i].inbound_port = take(base);
    plan.workloads[i].outbound_port = take(base + 1);
    plan.workloads[i].admin_port = take(base + 2);
  }

  plan.halyard_binary = options.halyard_binary.empty() ? selfPath() : options.halyard_binary;
  plan.proxy_binary = options.proxy_binary.empty()
                          ? (fs::path(plan.halyard_binary).parent_path() / "halyard-proxy").string()
                          : options.proxy_binary;
  if (!executable(plan.proxy_binary)) {
    problems.push_back("halyard-proxy not found at " + plan.proxy_binary +
                       " (build it: ninja -C build halyard-proxy)");
  }
  if (const char* wrapper = std::getenv("HALYARD_PROXY_WRAPPER"); wrapper && *wrapper) {
    plan.proxy_wrapper = wrapper;
    if (!executable(plan.proxy_wrapper)) {
      problems.push_back("HALYARD_PROXY_WRAPPER names " + plan.proxy_wrapper +
                         ", which is not an executable file; unset it or point it at a script");
    }
  }

  plan.log_dir = options.log_dir.empty() ? "/tmp/halyard-up-" + std::to_string(::getpid())
                                         : fs::absolute(options.log_dir).string();
  if (fs::path(plan.log_dir).lexically_normal().string().rfind(plan.dir + "/", 0) == 0) {
    problems.push_back("--log-dir " + plan.log_dir +
                       " is inside the watched config directory; put the logs elsewhere");
  }
  plan.ca_dir =
      options.ca_dir.empty() ? plan.log_dir + "/ca" : fs::absolute(options.ca_dir).string();
  if (fs::path(plan.ca_dir).lexically_normal().string().rfind(plan.dir + "/", 0) == 0) {
    problems.push_back("--ca-dir " + plan.ca_dir +
                       " is inside the watched config directory; keep the CA's key elsewhere");
  }
  plan.workload_cert_ttl = options.workload_cert_ttl;
  if (!problems.empty()) return common::unexpected(std::move(problems));
  fs::create_directories(plan.log_dir, ec);
  if (ec || ::access(plan.log_dir.c_str(), W_OK) != 0) {
    return common::unexpected(
        Problems{"cannot write the log directory " + plan.log_dir + ": " + ec.message()});
  }
  return plan;
}

std::string credentialPath(const UpPlan& plan, const std::string& process_name) {
  return plan.log_dir + "/credentials/" + process_name + ".token";
}

std::string rootCertPath(const UpPlan& plan) {
  return plan.ca_dir + "/root-cert.pem";
}

}  // namespace halyard::up
