// deprecation.FieldAnalyzer: VirtualService and Sidecar fields Istio has deprecated (IST0002):
// fault.delay.percent (replaced by percentage) and Sidecar outboundTrafficPolicy.egressProxy
// (ignored by the proxy).
#include "config/validate/analyzers/networking_analyzers.h"

namespace halyard::config {

namespace {

class DeprecationFieldAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "deprecation.FieldAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    for (const auto& vs : ctx.config().virtual_services) {
      for (size_t i = 0; i < vs.spec.http.size(); ++i) {
        const auto& fault = vs.spec.http[i].fault;
        if (!fault || !fault->delay || fault->delay->percent.value_or(0) <= 0) continue;
        ctx.report(out, msg::kDeprecated, vs.meta,
                   "spec.http[" + std::to_string(i) + "].fault.delay.percent",
                   "HTTPRoute fault.delay.percent is deprecated; use fault.delay.percentage");
      }
    }
    for (const auto& sc : ctx.config().sidecars) {
      const auto& policy = sc.spec.outbound_traffic_policy;
      if (!policy || !policy->egress_proxy) continue;
      ctx.report(out, msg::kDeprecated, sc.meta, "spec.outboundTrafficPolicy.egressProxy",
                 "Sidecar outboundTrafficPolicy.egressProxy is deprecated and ignored");
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeDeprecationFieldAnalyzer() {
  return std::make_unique<DeprecationFieldAnalyzer>();
}

}  // namespace halyard::config
