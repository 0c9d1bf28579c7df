// virtualservice.JWTClaimRouteAnalyzer: routing on "@request.auth.claims.*" headers needs the
// claims, which only a RequestAuthentication applied to the gateway pod provides; without one the
// match never holds (IST0149). A RequestAuthentication applies to a pod from the pod's namespace
// or the root namespace, when its selector matches (an absent selector matches all).
#include <map>
#include <optional>
#include <string>

#include "config/model/host_name.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

constexpr std::string_view kClaimHeaderPrefix = "@request.auth.claims";

struct ClaimMatch {
  std::string header;
  std::string path;
};

// The first header match on a JWT claim, if any.
std::optional<ClaimMatch> claimMatch(const model::VirtualService& vs) {
  for (size_t i = 0; i < vs.spec.http.size(); ++i) {
    const auto& matches = vs.spec.http[i].match;
    for (size_t j = 0; j < matches.size(); ++j) {
      const std::string base =
          "spec.http[" + std::to_string(i) + "].match[" + std::to_string(j) + "]";
      for (const auto& [key, _] : matches[j].headers) {
        if (key.starts_with(kClaimHeaderPrefix))
          return ClaimMatch{key, base + ".headers[" + key + "]"};
      }
      for (const auto& [key, _] : matches[j].without_headers) {
        if (key.starts_with(kClaimHeaderPrefix)) {
          return ClaimMatch{key, base + ".withoutHeaders[" + key + "]"};
        }
      }
    }
  }
  return std::nullopt;
}

bool hasRequestAuthentication(const AnalysisContext& ctx, const model::Pod& pod) {
  const std::string& pod_ns = AnalysisContext::namespaceOf(pod.meta);
  for (const auto& ra : ctx.config().request_authentications) {
    const std::string& ns = AnalysisContext::namespaceOf(ra.meta);
    if (ns != pod_ns && ns != ctx.mesh().root_namespace) continue;
    static const std::map<std::string, std::string> kAll;
    const auto& selector = ra.spec.selector ? ra.spec.selector->match_labels : kAll;
    if (model::selectorMatches(selector, pod.meta.labels)) return true;
  }
  return false;
}

class JwtClaimRouteAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "virtualservice.JWTClaimRouteAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const networking::GatewayIndex gateways(ctx);
    for (const auto& vs : ctx.config().virtual_services) {
      auto claim = claimMatch(vs);
      if (!claim) continue;
      const std::string& ns = AnalysisContext::namespaceOf(vs.meta);
      for (const auto& ref : vs.spec.gateways) {
        if (ref == "mesh") continue;
        const std::string full = model::resolveGatewayName(ref, ns);
        // A missing gateway is virtualservice.GatewayAnalyzer's finding.
        const model::Gateway* gw = gateways.istio(full);
        if (!gw) continue;
        for (const model::Pod* pod : networking::podsSelectedBy(ctx.config(), gw->spec.selector)) {
          if (hasRequestAuthentication(ctx, *pod)) continue;
          ctx.report(out, msg::kJwtClaimBasedRoutingWithoutRequestAuthN, vs.meta, claim->path,
                     "Routing on JWT claim \"" + claim->header + "\" through gateway " + full +
                         ", but no RequestAuthentication applies to its pod " +
                         networking::fullName(pod->meta) + "; the match can never hold");
        }
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeJwtClaimRouteAnalyzer() {
  return std::make_unique<JwtClaimRouteAnalyzer>();
}

}  // namespace halyard::config
