// gateway.IngressGatewayPortAnalyzer: a Gateway must select at least one pod (IST0101), and each
// server port must be one the pods receive traffic on through a Service selecting them (IST0162).
// A Service port counts by its `port` and by its `targetPort`: the server port is where the proxy
// listens, which the Service reaches through targetPort, while a gateway exposed on the same
// number it listens on is the common case too.
#include <set>

#include "config/model/host_name.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

using networking::selectorText;

// The container port a named targetPort refers to on this pod, or 0.
int64_t namedContainerPort(const model::Pod& pod, const std::string& name) {
  for (const auto& c : pod.containers) {
    for (const auto& p : c.ports) {
      if (p.name == name) return p.container_port;
    }
  }
  return 0;
}

// TCP ports on which Services of the pod's namespace that select it deliver traffic to it.
void addServicePorts(const model::ConfigSet& config, const model::Pod& pod,
                     std::set<int64_t>& ports) {
  const std::string& pod_ns = AnalysisContext::namespaceOf(pod.meta);
  for (const auto& svc : config.services) {
    // A Service without a selector selects no pods (its endpoints are managed by hand).
    if (svc.selector.empty() || AnalysisContext::namespaceOf(svc.meta) != pod_ns ||
        !model::selectorMatches(svc.selector, pod.meta.labels)) {
      continue;
    }
    for (const auto& p : svc.ports) {
      if (!p.protocol.empty() && p.protocol != "TCP") continue;
      ports.insert(p.port);
      if (p.target_port_number) {
        ports.insert(*p.target_port_number);
      } else if (!p.target_port.empty()) {
        if (int64_t n = namedContainerPort(pod, p.target_port)) ports.insert(n);
      }
    }
  }
}

class IngressGatewayPortAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "gateway.IngressGatewayPortAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const model::ConfigSet& config = ctx.config();
    for (const auto& gw : config.gateways) {
      const auto& selector = gw.spec.selector;
      auto pods = networking::podsSelectedBy(config, selector);
      if (pods.empty()) {
        networking::reportGatewayWithoutPods(ctx, gw, out);
        continue;
      }
      std::set<int64_t> ports;
      for (const model::Pod* pod : pods) addServicePorts(config, *pod, ports);
      for (size_t i = 0; i < gw.spec.servers.size(); ++i) {
        const auto& port = gw.spec.servers[i].port;
        if (!port || !port->number || ports.contains(*port->number)) continue;
        ctx.report(out, msg::kGatewayPortNotDefinedOnService, gw.meta,
                   "spec.servers[" + std::to_string(i) + "].port.number",
                   "Gateway port " + std::to_string(*port->number) +
                       " is not exposed by any Service selecting the gateway's pods (selector \"" +
                       selectorText(selector) + "\")");
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeIngressGatewayPortAnalyzer() {
  return std::make_unique<IngressGatewayPortAnalyzer>();
}

}  // namespace halyard::config
