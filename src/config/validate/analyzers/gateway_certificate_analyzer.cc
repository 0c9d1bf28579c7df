// gateway.CertificateAnalyzer: two TLS servers on the same gateway workload presenting the same
// certificate let a client reuse one HTTP/2 connection for the other server's hosts, which then
// meets the wrong server's routes (404s) (IST0138). A Gateway is checked
// against every Gateway whose selector contains its own (those run on a superset of its pods).
#include "config/model/host_name.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

// Same credentialName, or (both without one) the same certificate and key files.
bool sameCertificate(const model::ServerTLSSettings& a, const model::ServerTLSSettings& b) {
  const std::string ca = a.credential_name.value_or("");
  const std::string cb = b.credential_name.value_or("");
  if (!ca.empty() || !cb.empty()) return ca == cb;
  const std::string cert = a.server_certificate.value_or("");
  const std::string key = a.private_key.value_or("");
  return !cert.empty() && !key.empty() && cert == b.server_certificate.value_or("") &&
         key == b.private_key.value_or("");
}

class CertificateAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "gateway.CertificateAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const auto& gateways = ctx.config().gateways;
    for (const auto& gw : gateways) {
      for (const auto& other : gateways) {
        if (&other == &gw || !model::selectorMatches(gw.spec.selector, other.spec.selector)) {
          continue;
        }
        for (size_t i = 0; i < gw.spec.servers.size(); ++i) {
          const auto& tls = gw.spec.servers[i].tls;
          if (!tls) continue;
          for (const auto& s : other.spec.servers) {
            if (!s.tls || !sameCertificate(*tls, *s.tls)) continue;
            ctx.report(out, msg::kGatewayDuplicateCertificate, gw.meta,
                       "spec.servers[" + std::to_string(i) + "].tls",
                       "Duplicate certificate in gateways " + networking::fullName(gw.meta) + ", " +
                           networking::fullName(other.meta) +
                           " on the same workload; HTTP/2 connection reuse across their hosts may "
                           "get 404s");
          }
        }
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeGatewayCertificateAnalyzer() {
  return std::make_unique<CertificateAnalyzer>();
}

}  // namespace halyard::config
