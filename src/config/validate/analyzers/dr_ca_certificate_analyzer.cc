// destinationrule.CaCertificateAnalyzer: TLS origination (SIMPLE or MUTUAL) that cannot verify
// the server because no CA is given, at the destination level (IST0128) or per port (IST0129).
#include <string>

#include "config/validate/analyzers/policy_analyzers.h"

namespace halyard::config {

namespace {

// Whether these settings originate TLS without any CA to check the server against. A
// credentialName brings its own CA, but sidecars only read it when the rule has a
// workloadSelector, so without one it does not count.
bool unverified(const model::ClientTLSSettings& tls, bool has_selector) {
  const std::string mode = tls.mode.value_or("");
  if (mode != "SIMPLE" && mode != "MUTUAL") return false;
  if (!tls.ca_certificates.value_or("").empty()) return false;
  return !(has_selector && !tls.credential_name.value_or("").empty());
}

class CaCertificateAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "destinationrule.CaCertificateAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    for (const auto& dr : ctx.config().destination_rules) {
      if (!dr.spec.traffic_policy) continue;
      const model::TrafficPolicy& policy = *dr.spec.traffic_policy;
      const bool has_selector = dr.spec.workload_selector.has_value();
      const std::string host = dr.spec.host.value_or("");
      if (policy.tls && unverified(*policy.tls, has_selector)) {
        ctx.report(out, msg::kNoServerCertificateVerificationDestinationLevel, dr.meta,
                   "spec.trafficPolicy.tls.mode",
                   "DestinationRule " + dr.meta.name + " sets TLS mode " + *policy.tls->mode +
                       " for host " + host +
                       " but no caCertificates, so the server certificate is not verified");
      }
      for (size_t i = 0; i < policy.port_level_settings.size(); ++i) {
        const model::PortTrafficPolicy& port = policy.port_level_settings[i];
        if (!port.tls || !unverified(*port.tls, has_selector)) continue;
        std::string port_text = "?";
        if (port.port && port.port->number) port_text = std::to_string(*port.port->number);
        ctx.report(out, msg::kNoServerCertificateVerificationPortLevel, dr.meta,
                   "spec.trafficPolicy.portLevelSettings[" + std::to_string(i) + "].tls.mode",
                   "DestinationRule " + dr.meta.name + " sets TLS mode " + *port.tls->mode +
                       " for host " + host + " port " + port_text +
                       " but no caCertificates, so the server certificate is not verified");
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeCaCertificateAnalyzer() {
  return std::make_unique<CaCertificateAnalyzer>();
}

}  // namespace halyard::config
