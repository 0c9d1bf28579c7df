// service.PortNameAnalyzer: a Service port whose protocol Istio cannot tell — no appProtocol,
// not UDP, and a name that does not start with a known protocol (`<protocol>[-<suffix>]`, e.g.
// "http-web", "grpc") — is reported (IST0118, Info): Istio treats its traffic as opaque TCP.
// On an ExternalName Service such a port, or one named plain TCP, is a warning instead
// (IST0150): TCP traffic cannot be routed to an external name by host.
// System namespaces, the control plane's own Services and Istio-managed gateways are skipped.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "config/validate/analyzers/policy_analyzers.h"

namespace halyard::config {

namespace {

constexpr std::array<std::string_view, 2> kIgnoredNamespaces = {"kube-system", "kube-public"};

// The protocols Istio recognises in a port name's prefix (case-insensitive).
constexpr std::array<std::string_view, 12> kProtocols = {"tcp",  "udp",        "grpc",  "grpc-web",
                                                         "http", "http_proxy", "http2", "https",
                                                         "tls",  "mongo",      "redis", "mysql"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The protocol a port name declares ("" when it declares none Istio knows).
std::string protocolOfName(std::string_view name) {
  const std::string prefix = lower(name.substr(0, name.find('-')));
  if (std::find(kProtocols.begin(), kProtocols.end(), prefix) == kProtocols.end()) return "";
  return prefix;
}

bool skipped(const model::Service& svc) {
  const std::string& ns = AnalysisContext::namespaceOf(svc.meta);
  if (std::find(kIgnoredNamespaces.begin(), kIgnoredNamespaces.end(), ns) !=
      kIgnoredNamespaces.end()) {
    return true;
  }
  const auto& labels = svc.meta.labels;
  auto release = labels.find("release");
  return labels.count("istio") || (release != labels.end() && release->second == "istio") ||
         labels.count("gateway.istio.io/managed");
}

class PortNameAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "service.PortNameAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    for (const auto& svc : ctx.config().services) {
      if (skipped(svc)) continue;
      for (size_t i = 0; i < svc.ports.size(); ++i) {
        const model::Service::Port& p = svc.ports[i];
        if (!p.app_protocol.empty() || p.protocol == "UDP") continue;
        const std::string protocol = protocolOfName(p.name);
        const bool external_name = svc.type == "ExternalName";
        if (!protocol.empty() && !(external_name && protocol == "tcp")) continue;
        const std::string target = p.target_port.empty() ? std::to_string(p.port) : p.target_port;
        const std::string port_text = "Port name " + p.name + " (port: " + std::to_string(p.port) +
                                      ", targetPort: " + target + ")";
        const std::string path = "spec.ports[" + std::to_string(i) + "]";
        if (external_name) {
          ctx.report(out, msg::kExternalNameServiceTypeInvalidPortName, svc.meta, path,
                     port_text +
                         " of an ExternalName service names no protocol but TCP; traffic to "
                         "an external name is routed by protocol, so name it http-, https- or "
                         "tls-...");
        } else {
          ctx.report(out, msg::kPortNameIsNotUnderNamingConvention, svc.meta, path,
                     port_text + " doesn't follow the naming convention of Istio port.");
        }
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makePortNameAnalyzer() {
  return std::make_unique<PortNameAnalyzer>();
}

}  // namespace halyard::config
