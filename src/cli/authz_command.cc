#include "cli/authz_command.h"

#include <arpa/inet.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/ca_flags.h"
#include "config/validate/analyze.h"
#include "config/yaml/config_set_builder.h"
#include "config/yaml/loader.h"
#include "control/ca/certificate_authority.h"
#include "control/ca/openssl_util.h"
#include "halyard/v1/discovery.grpc.pb.h"
#include "translate/authz_compiler.h"
#include "translate/mesh_settings.h"
#include "up/workload.h"
#include "wire/snapshot_codec.h"

namespace halyard::cli {

namespace {

namespace tr = halyard::translate;

struct AuthzCheckFlags {
  std::string workload;
  std::string dir;  // set: read the config here instead of asking the control plane
  std::string control = "127.0.0.1:15010";
  std::string ca_cert;
  std::string output = "text";
};

// The workload the policies were gathered for, and them.
struct Checked {
  std::string id;  // "name.namespace"
  std::string role;
  std::string namespace_;
  std::map<std::string, std::string> labels;
  std::vector<tr::AuthzPolicy> policies;
  std::vector<std::string> warnings;
  std::map<std::string, std::string> sources;  // policy "ns/name" -> "file:line"
};

std::string actionName(tr::AuthzAction a) {
  switch (a) {
    case tr::AuthzAction::kAllow:
      return "ALLOW";
    case tr::AuthzAction::kDeny:
      return "DENY";
    case tr::AuthzAction::kAudit:
      return "AUDIT";
    case tr::AuthzAction::kCustom:
      return "CUSTOM";
  }
  return "?";
}

// "ns/name" -> "name.ns", as istioctl names policies.
std::string dottedName(const std::string& name) {
  const size_t slash = name.find('/');
  if (slash == std::string::npos) return name;
  return name.substr(slash + 1) + "." + name.substr(0, slash);
}

// The field of the AuthorizationPolicy a compiled condition came from.
std::string attributeName(const tr::AuthzCondition& c) {
  switch (c.attribute) {
    case tr::AuthzAttribute::kPrincipal:
      return "principals";
    case tr::AuthzAttribute::kRequestPrincipal:
      return "requestPrincipals";
    case tr::AuthzAttribute::kSourceNamespace:
      return "namespaces";
    case tr::AuthzAttribute::kSourceTrustDomain:
      return "trustDomains";
    case tr::AuthzAttribute::kSourceIp:
      return "ipBlocks";
    case tr::AuthzAttribute::kRemoteIp:
      return "remoteIpBlocks";
    case tr::AuthzAttribute::kHost:
      return "hosts";
    case tr::AuthzAttribute::kMethod:
      return "methods";
    case tr::AuthzAttribute::kPath:
      return "paths";
    case tr::AuthzAttribute::kPort:
      return "ports";
    case tr::AuthzAttribute::kHeader:
      return "request.headers[" + c.key + "]";
    case tr::AuthzAttribute::kAuthAudience:
      return "request.auth.audiences";
    case tr::AuthzAttribute::kAuthPresenter:
      return "request.auth.presenter";
    case tr::AuthzAttribute::kAuthClaim: {
      std::string out = "request.auth.claims";
      size_t start = 0;
      while (true) {
        const size_t zero = c.key.find('\0', start);
        out += "[" + c.key.substr(start, zero - start) + "]";
        if (zero == std::string::npos) break;
        start = zero + 1;
      }
      return out;
    }
    case tr::AuthzAttribute::kDestinationIp:
      return "destination.ip";
    case tr::AuthzAttribute::kSni:
      return "connection.sni";
  }
  return "?";
}

std::string matcherText(const tr::AuthzMatcher& m) {
  switch (m.kind) {
    case tr::AuthzMatcher::Kind::kExact:
    case tr::AuthzMatcher::Kind::kTemplate:
      return m.value;
    case tr::AuthzMatcher::Kind::kPrefix:
      return m.value + "*";
    case tr::AuthzMatcher::Kind::kSuffix:
      return "*" + m.value;
    case tr::AuthzMatcher::Kind::kPresence:
      return "*";
    case tr::AuthzMatcher::Kind::kCidr: {
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(m.value.size() == 4 ? AF_INET : AF_INET6, m.value.data(), text, sizeof text);
      return std::string(text) + "/" + std::to_string(m.prefix_length);
    }
  }
  return "?";
}

// "notPaths: /admin*, /debug" or "paths: /api/*"
std::string conditionText(const tr::AuthzCondition& c) {
  std::string name = attributeName(c);
  if (c.negated) {
    if (name.find('.') == std::string::npos) {
      name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
      name = "not" + name;
    } else {
      name += " notValues";
    }
  }
  std::string values;
  for (const auto& v : c.values) values += (values.empty() ? "" : ", ") + matcherText(v);
  return name + ": " + values;
}

std::string conditionsText(const std::vector<tr::AuthzCondition>& conditions) {
  if (conditions.empty()) return "any";
  std::string out;
  for (const auto& c : conditions) out += (out.empty() ? "" : "; ") + conditionText(c);
  return out;
}

std::vector<std::string> alternativesText(
    const std::vector<std::vector<tr::AuthzCondition>>& alternatives) {
  std::vector<std::string> out;
  for (const auto& a : alternatives) out.push_back("{" + conditionsText(a) + "}");
  return out;
}

std::string joined(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// What the policy does, a sentence.
std::string effectText(const tr::AuthzPolicy& p) {
  std::string verb;
  switch (p.action) {
    case tr::AuthzAction::kAllow:
      verb = "allows";
      break;
    case tr::AuthzAction::kDeny:
      verb = "denies";
      break;
    case tr::AuthzAction::kAudit:
      verb = "audits";
      break;
    case tr::AuthzAction::kCustom:
      verb = p.ext_provider ? "asks provider \"" + p.provider + "\" about"
                            : "denies (its provider \"" + p.provider + "\" is not defined)";
      break;
  }
  if (p.rules.empty()) return std::string(verb) + " nothing (no rules match)";
  return verb + " requests matching any rule below";
}

std::string providerText(const tr::AuthzExtProvider& e) {
  return std::string(e.protocol == tr::AuthzExtProvider::Protocol::kGrpc ? "envoyExtAuthzGrpc"
                                                                         : "envoyExtAuthzHttp") +
         " " + e.service + ":" + std::to_string(e.port) + " (cluster " + e.cluster + ", timeout " +
         std::to_string(e.timeout_ms) + "ms, failOpen " + (e.fail_open ? "true" : "false") +
         ", statusOnError " + std::to_string(e.status_on_error) + ")";
}

// Istio's evaluation order: CUSTOM, DENY, ALLOW (AUDIT alongside); by name within an action.
int order(tr::AuthzAction a) {
  switch (a) {
    case tr::AuthzAction::kCustom:
      return 0;
    case tr::AuthzAction::kDeny:
      return 1;
    case tr::AuthzAction::kAllow:
      return 2;
    case tr::AuthzAction::kAudit:
      return 3;
  }
  return 4;
}

void sortPolicies(std::vector<tr::AuthzPolicy>& policies) {
  std::stable_sort(policies.begin(), policies.end(),
                   [](const auto& a, const auto& b) { return order(a.action) < order(b.action); });
}

nlohmann::json toJson(const Checked& c) {
  nlohmann::json out;
  out["workload"] = c.id;
  out["role"] = c.role;
  out["namespace"] = c.namespace_;
  out["labels"] = c.labels;
  out["policies"] = nlohmann::json::array();
  for (const auto& p : c.policies) {
    nlohmann::json j;
    const size_t slash = p.name.find('/');
    j["name"] = p.name.substr(slash + 1);
    j["namespace"] = p.name.substr(0, slash);
    j["action"] = actionName(p.action);
    j["dry_run"] = p.dry_run;
    j["rules"] = p.rules.size();
    j["effect"] = effectText(p);
    if (const auto it = c.sources.find(p.name); it != c.sources.end()) j["source"] = it->second;
    if (p.action == tr::AuthzAction::kCustom) {
      j["provider"] = p.provider;
      j["provider_defined"] = p.ext_provider != nullptr;
    }
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : p.rules) {
      rules.push_back({{"from", alternativesText(r.from)},
                       {"to", alternativesText(r.to)},
                       {"when", conditionsText(r.when)}});
    }
    j["rule_details"] = std::move(rules);
    out["policies"].push_back(std::move(j));
  }
  out["warnings"] = c.warnings;
  return out;
}

void printText(const Checked& c) {
  std::string labels;
  for (const auto& [k, v] : c.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
  std::cout << "Checked " << c.id << " (" << c.role << ", namespace " << c.namespace_
            << (labels.empty() ? "" : ", labels " + labels) << ")\n";
  if (c.policies.empty()) {
    std::cout << "No AuthorizationPolicy applies: every request is allowed.\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    size_t width[2] = {6, 19};
    for (const auto& p : c.policies) {
      rows.push_back({actionName(p.action) + (p.dry_run ? " (dry-run)" : ""), dottedName(p.name),
                      std::to_string(p.rules.size())});
      width[0] = std::max(width[0], rows.back()[0].size());
      width[1] = std::max(width[1], rows.back()[1].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::cout << cells[0] << std::string(width[0] - cells[0].size() + 3, ' ') << cells[1]
                << std::string(width[1] - cells[1].size() + 3, ' ') << cells[2] << "\n";
    };
    line({"ACTION", "AuthorizationPolicy", "RULES"});
    for (const auto& r : rows) line(r);
    std::cout << "\n";
    for (const auto& p : c.policies) {
      std::cout << actionName(p.action) << " " << dottedName(p.name);
      if (const auto it = c.sources.find(p.name); it != c.sources.end()) {
        std::cout << " (" << it->second << ")";
      }
      std::cout << ": " << effectText(p)
                << (p.dry_run ? "; dry-run: evaluated, never enforced" : "") << "\n";
      if (p.ext_provider) std::cout << "  provider: " << providerText(*p.ext_provider) << "\n";
      for (size_t i = 0; i < p.rules.size(); ++i) {
        const tr::AuthzRule& r = p.rules[i];
        std::cout << "  rule " << i << ":\n";
        std::cout << "    from: "
                  << (r.from.empty() ? "any source" : joined(alternativesText(r.from), " or "))
                  << "\n";
        std::cout << "    to:   "
                  << (r.to.empty() ? "any operation" : joined(alternativesText(r.to), " or "))
                  << "\n";
        if (!r.when.empty()) std::cout << "    when: " << conditionsText(r.when) << "\n";
      }
    }
  }
  if (!c.warnings.empty()) {
    std::cout << "\nwarnings:\n";
    for (const auto& w : c.warnings) std::cout << "  " << w << "\n";
  }
}

// ---- from a directory ---------------------------------------------------------------------

// WORKLOAD as "name" or "name.namespace" (or "namespace/name").
void splitName(std::string workload, std::string& name, std::string& ns) {
  // istioctl's kind prefixes: the workload is what they name.
  for (const char* kind : {"pod/", "pods/", "deployment/", "deploy/", "workload/"}) {
    if (workload.starts_with(kind)) {
      workload.erase(0, std::string_view(kind).size());
      break;
    }
  }
  const size_t slash = workload.find('/');
  if (slash != std::string::npos) {
    ns = workload.substr(0, slash);
    name = workload.substr(slash + 1);
    return;
  }
  const size_t dot = workload.find('.');
  name = workload.substr(0, dot);
  ns = dot == std::string::npos ? "" : workload.substr(dot + 1);
}

// The gateway `halyard up` runs for a Gateway selector, as it names it (docs/halyard-up.md).
std::optional<std::map<std::string, std::string>> gatewayLabels(
    const config::model::ConfigSet& config, const std::string& name) {
  for (const auto& g : config.gateways) {
    const auto& selector = g.spec.selector;
    const auto it = selector.find("istio");
    if (it != selector.end() && selector.size() == 1 && "istio-" + it->second == name) {
      return selector;
    }
  }
  return std::nullopt;
}

int checkDirectory(const AuthzCheckFlags& flags, Checked& out) {
  config::LoadResult loaded = config::loadPaths({flags.dir});
  bool failed = false;
  for (const auto& d : loaded.diagnostics) {
    if (d.level == config::Level::kError) {
      std::cerr << "error: " << d.pos.str() << ": " << d.message << "\n";
      failed = true;
    }
  }
  if (failed) return 1;
  const config::model::ConfigSet config = config::buildConfigSet(loaded.objects);
  std::string name, ns;
  splitName(flags.workload, name, ns);
  const up::WorkloadSet workloads = up::decodeWorkloads(loaded.objects);
  const up::Workload* found = nullptr;
  for (const auto& w : workloads.workloads) {
    if (w.name == name && (ns.empty() || w.namespace_ == ns)) {
      if (found) {
        std::cerr << "error: workload " << name << " is declared in namespaces "
                  << found->namespace_ << " and " << w.namespace_ << ": name it as " << name
                  << ".<namespace>\n";
        return 1;
      }
      found = &w;
    }
  }
  if (found) {
    out.id = found->name + "." + found->namespace_;
    out.role = "sidecar";
    out.namespace_ = found->namespace_;
    out.labels = found->labels;
  } else if (auto labels = gatewayLabels(config, name);
             labels && (ns.empty() || ns == "istio-system")) {
    out.id = name + ".istio-system";
    out.role = "gateway";
    out.namespace_ = "istio-system";
    out.labels = std::move(*labels);
  } else {
    std::string known;
    for (const auto& w : workloads.workloads) {
      known += (known.empty() ? "" : ", ") + w.name + "." + w.namespace_;
    }
    std::cerr << "error: " << flags.dir << " declares no Workload " << flags.workload
              << " and no gateway of that name (Workloads: " << (known.empty() ? "none" : known)
              << "; gateways are named istio-<istio selector label>, e.g. istio-ingressgateway)\n";
    return 1;
  }
  const tr::MeshSettingsSource mesh = tr::readMeshSettings(config);
  if (!mesh.error.empty()) out.warnings.push_back(mesh.error);
  out.policies = tr::authzPoliciesFor(
      config, mesh.settings, tr::AuthzScope{out.namespace_, out.labels, false}, out.warnings);
  for (const auto& p : config.authorization_policies) {
    const std::string pns = p.meta.namespace_.empty() ? "default" : p.meta.namespace_;
    out.sources[pns + "/" + p.meta.name] = p.meta.pos.str();
  }
  return 0;
}

// ---- from the control plane ---------------------------------------------------------------

std::string findRoot(const AuthzCheckFlags& flags) {
  std::string path = flags.ca_cert;
  if (path.empty()) {
    if (const char* env = std::getenv("HALYARD_CA_CERT"); env && *env) path = env;
  }
  if (path.empty()) {
    const auto colon = flags.control.rfind(':');
    const std::string port = colon == std::string::npos ? "" : flags.control.substr(colon + 1);
    path = std::string(kRootBundleDir) + "/halyard-control-" + port + ".root.pem";
    if (port.empty() || !std::filesystem::exists(path)) {
      std::cerr << "error: no root certificate to verify the control plane at " << flags.control
                << " with: pass --ca-cert FILE or set HALYARD_CA_CERT (or --dir DIR to read a "
                   "config directory instead)\n";
      return "";
    }
  }
  auto pem = control::ca::readFile(path);
  if (!pem || control::ca::parseCertificates(*pem).empty()) {
    std::cerr << "error: " << path << " holds no PEM certificate\n";
    return "";
  }
  return *pem;
}

int checkControl(const AuthzCheckFlags& flags, Checked& out) {
  gpr_set_log_function([](gpr_log_func_args*) {});
  const std::string root = findRoot(flags);
  if (root.empty()) return 1;
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = root;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("istiod.istio-system.svc");
  auto stub = v1::Discovery::NewStub(
      grpc::CreateCustomChannel(flags.control, grpc::SslCredentials(tls), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ProxyConfigRequest request;
  std::string name, ns;
  splitName(flags.workload, name, ns);
  request.set_proxy(ns.empty() ? name : name + "." + ns);
  v1::ProxyConfigResponse r;
  const grpc::Status status = stub->ProxyConfig(&context, request, &r);
  if (!status.ok()) {
    std::cerr << "error: "
              << (status.error_code() == grpc::StatusCode::UNAVAILABLE
                      ? "cannot reach the control plane at " + flags.control + ": "
                      : std::string())
              << status.error_message() << "\n";
    return 1;
  }
  out.id = r.proxy().id();
  out.role = r.proxy().role();
  out.namespace_ = r.proxy().namespace_();
  out.labels.insert(r.proxy().labels().begin(), r.proxy().labels().end());
  // The inbound listener of a sidecar, a gateway's HTTP listeners (TCP ones carry the same
  // policies compiled for TCP): the first that has them.
  for (const auto& l : r.resources().listeners()) {
    if (l.kind() != v1::Listener::INBOUND && l.kind() != v1::Listener::GATEWAY) continue;
    auto decoded = wire::decodeListener(l);
    if (!decoded) {
      std::cerr << "error: listener " << l.name() << " of " << out.id
                << " cannot be read: " << decoded.error().message << "\n";
      return 1;
    }
    if (decoded->isTcp() && !out.policies.empty()) continue;
    out.policies = std::move(decoded->authz);
    if (!decoded->isTcp()) break;
  }
  for (const auto& w : r.warnings()) {
    if (w.find("AuthorizationPolicy") != std::string::npos) out.warnings.push_back(w);
  }
  return 0;
}

int runAuthzCheck(const AuthzCheckFlags& flags) {
  Checked checked;
  const int rc = flags.dir.empty() ? checkControl(flags, checked) : checkDirectory(flags, checked);
  if (rc != 0) return rc;
  sortPolicies(checked.policies);
  if (flags.output == "json") {
    std::cout << toJson(checked).dump(2) << "\n";
  } else {
    printText(checked);
  }
  return 0;
}

}  // namespace

void registerAuthzCommand(CLI::App& app, int& exit_code) {
  auto* authz = app.add_subcommand("authz", "AuthorizationPolicy tools");
  authz->require_subcommand(1);
  auto flags = std::make_shared<AuthzCheckFlags>();
  auto* check = authz->add_subcommand(
      "check", "The AuthorizationPolicies that apply to a workload and what each allows or denies");
  check
      ->add_option("workload", flags->workload,
                   "name.namespace (as proxy-status shows it), or a Workload / gateway name")
      ->required();
  check->add_option("source", flags->dir,
                    "A config directory (as halyard up runs it), the same as --dir");
  check->add_option("-d,--dir,-f,--file", flags->dir,
                    "Read this config directory (as halyard up runs it) instead of asking the "
                    "control plane");
  check->add_option("--control", flags->control, "The control plane's gRPC address")
      ->capture_default_str();
  check->add_option("--ca-cert", flags->ca_cert,
                    "Root certificate to verify the control plane with [default: "
                    "$HALYARD_CA_CERT, else /tmp/halyard-control-<port>.root.pem]");
  check->add_option("-o,--output", flags->output, "text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  check->callback([flags, &exit_code] { exit_code = runAuthzCheck(*flags); });
}

}  // namespace halyard::cli
