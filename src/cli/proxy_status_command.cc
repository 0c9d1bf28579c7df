#include "cli/proxy_status_command.h"

#include <google/protobuf/util/json_util.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/admin_fetch.h"
#include "cli/ca_flags.h"
#include "control/ca/certificate_authority.h"
#include "control/ca/openssl_util.h"
#include "halyard/v1/discovery.grpc.pb.h"

namespace halyard::cli {

namespace {

constexpr auto kRpcDeadline = std::chrono::seconds(5);
// The name the control plane's certificate is checked against, whatever address is dialled (as
// proxies do): it is in every serving certificate the control plane issues itself.
constexpr const char* kControlServerName = "istiod.istio-system.svc";

struct ClientFlags {
  std::string control = "127.0.0.1:15010";
  std::string output = "text";
  std::string ca_cert;  // the root to verify the control plane with; empty: looked up
};

struct ProxyConfigFlags : ClientFlags {
  std::string what;
  std::string proxy;
};

// The root bundle to verify the control plane with: --ca-cert, else $HALYARD_CA_CERT, else the
// copy a control plane on this host writes for its port. "" with a message on stderr when none.
std::string findRoot(const ClientFlags& flags) {
  std::string path = flags.ca_cert, from = "--ca-cert";
  if (path.empty()) {
    if (const char* env = std::getenv("HALYARD_CA_CERT"); env && *env) {
      path = env;
      from = "$HALYARD_CA_CERT";
    }
  }
  if (path.empty()) {
    const auto colon = flags.control.rfind(':');
    const std::string port = colon == std::string::npos ? "" : flags.control.substr(colon + 1);
    const std::string copy = std::string(kRootBundleDir) + "/halyard-control-" + port + ".root.pem";
    if (port.empty() || !std::filesystem::exists(copy)) {
      std::cerr << "error: no root certificate to verify the control plane at " << flags.control
                << " with: pass --ca-cert FILE (root-cert.pem in its --ca-dir) or set "
                   "HALYARD_CA_CERT; a control plane on this host writes "
                << copy << ", which is not there\n";
      return "";
    }
    path = copy;
    from = "the control plane's copy";
  }
  auto pem = control::ca::readFile(path);
  if (!pem) {
    std::cerr << "error: " << from << ": " << pem.error().message << "\n";
    return "";
  }
  if (control::ca::parseCertificates(*pem).empty()) {
    std::cerr << "error: " << from << ": " << path << " holds no PEM certificate\n";
    return "";
  }
  return *pem;
}

// A stub on a TLS channel that verifies the control plane against the root; null (with a message
// on stderr) when there is no root.
std::unique_ptr<v1::Discovery::Stub> connect(const ClientFlags& flags) {
  // gRPC logs a failed handshake on stderr in its own format; rpcFailed says it in a sentence.
  gpr_set_log_function([](gpr_log_func_args*) {});
  const std::string root = findRoot(flags);
  if (root.empty()) return nullptr;
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = root;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kControlServerName);
  return v1::Discovery::NewStub(
      grpc::CreateCustomChannel(flags.control, grpc::SslCredentials(tls), args));
}

void setDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
}

int rpcFailed(const std::string& address, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    const std::string& m = status.error_message();
    std::cerr << "error: cannot reach the control plane at " << address << ": " << m << "\n";
    if (m.find("andshake") != std::string::npos || m.find("ertificate") != std::string::npos ||
        m.find("SSL") != std::string::npos || m.find("Ssl") != std::string::npos) {
      std::cerr << "(the TLS handshake failed: is the root certificate the one of this control "
                   "plane's --ca-dir?)\n";
    }
  } else {
    std::cerr << "error: " << status.error_message() << "\n";
  }
  return 1;
}

nlohmann::json toJson(const google::protobuf::Message& m) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &text, options);
  return nlohmann::json::parse(text);
}

// "850ms", "12.3s", "4m05s", "3h02m"; "-" for never.
std::string age(int64_t ms) {
  if (ms < 0) return "-";
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  }
  return buf;
}

// Columns padded to their widest cell; the last column is not padded.
void printTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  auto print = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line += std::string(width[i] - cells[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print(header);
  for (const auto& r : rows) print(r);
}

std::string where(const std::string& file, int line) {
  if (file.empty()) return "";
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

// ---- proxy-status -----------------------------------------------------------------------

int runProxyStatus(const ClientFlags& flags) {
  auto stub = connect(flags);
  if (!stub) return 1;
  grpc::ClientContext context;
  setDeadline(context);
  v1::StatusResponse r;
  grpc::Status status = stub->Status(&context, v1::StatusRequest(), &r);
  if (!status.ok()) return rpcFailed(flags.control, status);
  if (flags.output == "json") {
    std::cout << toJson(r).dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : r.proxies()) {
    std::string last = p.last_response().empty()
                           ? "-"
                           : p.last_response() + " v" + std::to_string(p.last_response_version());
    rows.push_back({p.id(), p.role(), p.sent_version() ? std::to_string(p.sent_version()) : "-",
                    p.acked_version() ? std::to_string(p.acked_version()) : "-", last,
                    age(p.ms_since_last_push()), p.last_error()});
  }
  std::cout << "config version " << r.version() << ", " << r.objects() << " objects, "
            << r.proxies_size() << " proxies connected\n";
  if (!rows.empty()) {
    printTable({"PROXY", "ROLE", "PUSHED", "ACKED", "LAST ANSWER", "SINCE PUSH", "ERROR"}, rows);
  }
  if (r.quarantined_size() > 0) {
    std::cout << "\nquarantined objects (left out of the effective config):\n";
    for (const auto& q : r.quarantined()) {
      std::cout << "  " << q.kind() << " "
                << (q.namespace_().empty() ? q.name() : q.namespace_() + "/" + q.name()) << " ("
                << where(q.file(), q.line()) << ")"
                << (q.previous_version_serving() ? ": its previous version keeps serving"
                                                 : ": not served")
                << "\n";
      for (const auto& p : q.problems()) {
        // Messages usually start with their field already.
        const bool field = !p.field().empty() && !p.message().starts_with(p.field());
        std::cout << "    " << p.level() << " [" << p.code() << "] " << where(p.file(), p.line())
                  << (field ? " " + p.field() : "") << ": " << p.message() << "\n";
      }
    }
  }
  if (r.config_problems_size() > 0) {
    std::cout << "\nconfig problems:\n";
    for (const auto& p : r.config_problems()) {
      std::cout << "  " << p.level() << " [" << p.code() << "] " << where(p.file(), p.line())
                << ": " << p.message() << "\n";
    }
  }
  return 0;
}

// ---- proxy-config -----------------------------------------------------------------------

std::string matcherText(const v1::StringMatcher& m) {
  switch (m.kind()) {
    case v1::StringMatcher::EXACT:
      return "=" + m.value();
    case v1::StringMatcher::PREFIX:
      return m.value() + "*";
    case v1::StringMatcher::REGEX:
      return "~" + m.regex();
    case v1::StringMatcher::PRESENT:
      return "present";
    default:
      return "?";
  }
}

std::string matchText(const v1::RouteMatch& m) {
  std::string out = m.has_uri() ? matcherText(m.uri()) : "/*";
  if (m.has_method()) out += " method " + matcherText(m.method());
  if (m.has_authority()) out += " authority " + matcherText(m.authority());
  if (m.has_scheme()) out += " scheme " + matcherText(m.scheme());
  for (const auto& h : m.headers()) {
    out += std::string(h.invert() ? " !" : " ") + h.name() + " " + matcherText(h.match());
  }
  for (const auto& q : m.query_params()) out += " ?" + q.name() + " " + matcherText(q.match());
  return out;
}

std::string actionText(const v1::Route& r) {
  if (r.has_redirect()) {
    const auto& rd = r.redirect();
    std::string target = rd.has_scheme() ? rd.scheme() + "://" : "";
    target += rd.has_authority() ? rd.authority() : "";
    target += rd.has_uri() ? rd.uri() : rd.has_prefix_rewrite() ? rd.prefix_rewrite() + "*" : "";
    return "redirect " + std::to_string(rd.code()) + (target.empty() ? "" : " " + target);
  }
  if (r.has_direct_response()) return "direct " + std::to_string(r.direct_response().status());
  const auto& f = r.forward();
  std::string out;
  for (const auto& c : f.clusters()) {
    if (!out.empty()) out += ", ";
    out += c.cluster();
    if (f.clusters_size() > 1 && f.total_weight() > 0) {
      out += " " + std::to_string(c.weight() * 100 / f.total_weight()) + "%";
    }
  }
  return out;
}

// As docs/control-protocol.md names them.
std::string kindText(v1::Listener::Kind kind) {
  switch (kind) {
    case v1::Listener::GATEWAY:
      return "gateway";
    case v1::Listener::INBOUND:
      return "inbound";
    case v1::Listener::OUTBOUND_PROXY:
      return "outbound-proxy";
    case v1::Listener::OUTBOUND_PORT:
      return "outbound-port";
    default:
      return std::to_string(kind);
  }
}

// "SIMPLE a.example.com,*.b.com (secret istio-system/cert tls.crt)" per TLS server, "; "-joined.
std::string listenerTlsText(const v1::Listener& l) {
  std::string out;
  for (const auto& t : l.tls()) {
    std::string hosts;
    for (const auto& h : t.sni_hosts()) hosts += (hosts.empty() ? "" : ",") + h;
    std::string certs;
    for (const auto& c : t.certificates()) {
      const auto& chain = c.certificate_chain();
      certs +=
          (certs.empty() ? "" : ", ") + (chain.origin().empty() ? chain.path() : chain.origin());
    }
    out += (out.empty() ? "" : "; ") + v1::ServerTls::Mode_Name(t.mode()) + " " + hosts + " (" +
           certs + ")";
  }
  return out.empty() ? "-" : out;
}

// `proxy-config secret`: the proxy's workload certificate and the roots, as `istioctl
// proxy-config secret` shows them.
int printSecret(const v1::ProxyConfigResponse& r, bool json) {
  if (r.certificate_chain().empty()) {
    std::cerr << "error: no certificate was issued to " << r.proxy().id() << "\n";
    return 1;
  }
  const int64_t now = time(nullptr);
  struct Row {
    control::ca::CertificateFacts facts;
    bool valid = false;
  };
  auto row = [now](const std::string& pem) {
    Row out;
    if (auto facts = control::ca::describeCertificate(pem)) out.facts = std::move(*facts);
    out.valid = out.facts.not_before <= now && now < out.facts.not_after;
    return out;
  };
  const Row leaf = row(r.certificate_chain());
  std::vector<Row> roots;
  for (const auto& cert : control::ca::parseCertificates(r.root_certificates())) {
    roots.push_back(row(control::ca::toPem(cert.get())));
  }
  const std::string spiffe_id = r.proxy().spiffe_id().empty() && !leaf.facts.uri_sans.empty()
                                    ? leaf.facts.uri_sans.front()
                                    : r.proxy().spiffe_id();
  if (json) {
    auto facts = [](const Row& x) {
      return nlohmann::json{{"serial_number", x.facts.serial_hex},
                            {"not_before", control::ca::rfc3339(x.facts.not_before)},
                            {"not_after", control::ca::rfc3339(x.facts.not_after)},
                            {"valid", x.valid}};
    };
    nlohmann::json out = facts(leaf);
    out["proxy"] = r.proxy().id();
    out["spiffe_id"] = spiffe_id;
    out["certificates_issued"] = r.proxy().certificates_issued();
    out["certificate_chain"] = r.certificate_chain();
    out["root_certificates"] = r.root_certificates();
    out["roots"] = nlohmann::json::array();
    for (const auto& root : roots) out["roots"].push_back(facts(root));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  auto add = [&rows](const std::string& name, const std::string& type, const Row& x) {
    rows.push_back({name, type, "ACTIVE", x.valid ? "true" : "false", x.facts.serial_hex,
                    control::ca::rfc3339(x.facts.not_after),
                    control::ca::rfc3339(x.facts.not_before)});
  };
  add("default", "Cert Chain", leaf);
  for (const auto& root : roots) add("ROOTCA", "CA", root);
  printTable(
      {"RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"},
      rows);
  std::cout << "SPIFFE ID: " << spiffe_id << "\n";
  return 0;
}

int runProxyConfig(const ProxyConfigFlags& flags) {
  auto stub = connect(flags);
  if (!stub) return 1;
  grpc::ClientContext context;
  setDeadline(context);
  v1::ProxyConfigRequest request;
  request.set_proxy(flags.proxy);
  v1::ProxyConfigResponse r;
  grpc::Status status = stub->ProxyConfig(&context, request, &r);
  if (!status.ok()) return rpcFailed(flags.control, status);
  const auto& res = r.resources();
  const bool json = flags.output == "json";
  if (flags.what == "secret") return printSecret(r, json);
  nlohmann::json out = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;

  if (flags.what == "listeners") {
    // The TLS column only when some listener terminates TLS: plaintext tables keep their shape.
    bool any_tls = false;
    for (const auto& l : res.listeners()) any_tls |= l.tls_size() > 0;
    for (const auto& l : res.listeners()) {
      if (json) {
        out.push_back(toJson(l));
        continue;
      }
      rows.push_back({l.name(), kindText(l.kind()), l.bind_address(), std::to_string(l.port()),
                      l.protocol(), std::to_string(l.virtual_hosts_size())});
      if (any_tls) rows.back().push_back(listenerTlsText(l));
    }
    std::vector<std::string> header{"NAME", "KIND", "ADDRESS", "PORT", "PROTOCOL", "VIRTUAL HOSTS"};
    if (any_tls) header.push_back("TLS");
    if (!json) printTable(header, rows);
  } else if (flags.what == "routes") {
    for (const auto& vh : res.virtual_hosts()) {
      if (json) {
        out.push_back(toJson(vh));
        continue;
      }
      std::string domains;
      for (const auto& d : vh.domains()) domains += (domains.empty() ? "" : ",") + d;
      if (vh.routes().empty()) rows.push_back({vh.listener(), vh.name(), domains, "-", "-", ""});
      for (const auto& route : vh.routes()) {
        rows.push_back({vh.listener(), vh.name(), domains, matchText(route.match()),
                        actionText(route), route.origin()});
      }
    }
    if (!json)
      printTable({"LISTENER", "VIRTUAL HOST", "DOMAINS", "MATCH", "ACTION", "ORIGIN"}, rows);
  } else if (flags.what == "clusters") {
    bool any_tls = false;
    for (const auto& c : res.clusters()) any_tls |= c.has_tls();
    for (const auto& c : res.clusters()) {
      if (json) {
        out.push_back(toJson(c));
        continue;
      }
      std::string tls = "-";
      if (c.has_tls()) {
        tls = v1::UpstreamTls::Mode_Name(c.tls().mode());
        if (!c.tls().sni().empty()) tls += " sni=" + c.tls().sni();
      }
      rows.push_back({c.service_host().empty() ? "-" : c.service_host(), std::to_string(c.port()),
                      c.subset().empty() ? "-" : c.subset(), v1::Cluster::LbPolicy_Name(c.lb()),
                      std::to_string(c.endpoints_size()), c.name()});
      if (any_tls) rows.back().insert(rows.back().begin() + 4, tls);
    }
    std::vector<std::string> header{"SERVICE FQDN", "PORT", "SUBSET", "LB", "ENDPOINTS", "CLUSTER"};
    if (any_tls) header.insert(header.begin() + 4, "TLS");
    if (!json) printTable(header, rows);
  } else {  // endpoints
    // Health is the proxy's (outlier detection runs there): read from its admin /clusters, as
    // istioctl reads Envoy's. Unreachable: shown as unknown rather than guessed.
    std::optional<std::string> clusters_text;
    if (!r.proxy().admin_address().empty()) {
      clusters_text = fetchAdmin(r.proxy().admin_address(), "/clusters");
    }
    const std::map<std::string, std::string> health =
        clusters_text ? healthFlags(*clusters_text) : std::map<std::string, std::string>{};
    for (const auto& c : res.clusters()) {
      for (const auto& e : c.endpoints()) {
        const std::string endpoint = e.address() + ":" + std::to_string(e.port());
        std::string status = "UNKNOWN";
        std::string outlier = "UNKNOWN";
        std::string flags;
        if (auto it = health.find(c.name() + "::" + endpoint); it != health.end()) {
          flags = it->second;
          const bool ejected = flags.find("failed_outlier_check") != std::string::npos;
          status = flags == "healthy" ? "HEALTHY" : "UNHEALTHY";
          outlier = ejected ? "FAILED" : "OK";
        }
        if (json) {
          nlohmann::json j = toJson(e);
          j["cluster"] = c.name();
          j["status"] = status;
          j["outlier_check"] = outlier;
          if (!flags.empty()) j["health_flags"] = flags;
          out.push_back(std::move(j));
          continue;
        }
        rows.push_back({endpoint, status, outlier, std::to_string(e.weight()),
                        e.workload().empty() ? "-" : e.workload(), c.name()});
      }
    }
    if (!json) {
      printTable({"ENDPOINT", "STATUS", "OUTLIER CHECK", "WEIGHT", "WORKLOAD", "CLUSTER"}, rows);
    }
  }
  if (json) std::cout << out.dump(2) << "\n";
  return 0;
}

void addClientFlags(CLI::App* cmd, ClientFlags& flags) {
  cmd->add_option("--control", flags.control, "The control plane's gRPC address")
      ->capture_default_str();
  cmd->add_option("-o,--output", flags.output, "text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--ca-cert", flags.ca_cert,
                  "Root certificate to verify the control plane with (its --ca-dir's "
                  "root-cert.pem) [default: $HALYARD_CA_CERT, else the copy a control plane on "
                  "this host writes to /tmp/halyard-control-<port>.root.pem]");
}

}  // namespace

void registerProxyStatusCommands(CLI::App& app, int& exit_code) {
  auto status_flags = std::make_shared<ClientFlags>();
  auto* status = app.add_subcommand(
      "proxy-status", "Every connected proxy: role, versions pushed and ACKed, last answer");
  addClientFlags(status, *status_flags);
  status->callback([status_flags, &exit_code] { exit_code = runProxyStatus(*status_flags); });

  auto config_flags = std::make_shared<ProxyConfigFlags>();
  auto* config =
      app.add_subcommand("proxy-config", "What one proxy serves (its last ACKed snapshot)");
  config
      ->add_option("what", config_flags->what,
                   "listeners, routes, clusters, endpoints or secret (its certificate)")
      ->required()
      ->check(CLI::IsMember({"listeners", "routes", "clusters", "endpoints", "secret"}));
  config->add_option("proxy", config_flags->proxy, "name.namespace (as proxy-status shows it)")
      ->required();
  addClientFlags(config, *config_flags);
  config->callback([config_flags, &exit_code] { exit_code = runProxyConfig(*config_flags); });
}

}  // namespace halyard::cli
