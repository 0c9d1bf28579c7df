// gateway.ConflictingGatewayAnalyzer: two Gateways on the same workload must not both define a
// server on one port for matching hosts; the proxy can only honour one of them (IST0145). Two
// Gateways share a workload when one selector is contained in the other or a pod carries both.
#include <algorithm>

#include "config/model/host_name.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

using model::Gateway;
using model::Server;

bool shareWorkload(const model::ConfigSet& config, const Gateway& a, const Gateway& b) {
  const auto& sa = a.spec.selector;
  const auto& sb = b.spec.selector;
  if (model::selectorMatches(sa, sb) || model::selectorMatches(sb, sa)) return true;
  return std::any_of(config.pods.begin(), config.pods.end(), [&](const model::Pod& pod) {
    return model::selectorMatches(sa, pod.meta.labels) &&
           model::selectorMatches(sb, pod.meta.labels);
  });
}

// Whether some host of one server matches some host of the other ("ns/" prefixes aside: the
// proxy serves both on the same listener whatever namespaces may bind to them).
bool hostsOverlap(const Gateway& ga, const Server& a, const Gateway& gb, const Server& b) {
  for (const auto& ha : a.hosts) {
    std::string host_a = model::parseNamespacedHost(ha, AnalysisContext::namespaceOf(ga.meta)).host;
    for (const auto& hb : b.hosts) {
      if (model::hostMatches(
              host_a, model::parseNamespacedHost(hb, AnalysisContext::namespaceOf(gb.meta)).host)) {
        return true;
      }
    }
  }
  return false;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

class ConflictingGatewayAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "gateway.ConflictingGatewayAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const auto& gateways = ctx.config().gateways;
    for (const Gateway& gw : gateways) {
      for (size_t i = 0; i < gw.spec.servers.size(); ++i) {
        const Server& server = gw.spec.servers[i];
        // A server without a port is a schema error; it cannot collide with anything.
        if (!server.port || !server.port->number) continue;
        std::vector<std::string> others;
        for (const Gateway& other : gateways) {
          if (&other == &gw || !shareWorkload(ctx.config(), gw, other)) continue;
          for (const Server& s : other.spec.servers) {
            if (s.port && s.port->number == server.port->number &&
                hostsOverlap(gw, server, other, s)) {
              others.push_back(networking::fullName(other.meta));
              break;
            }
          }
        }
        if (others.empty()) continue;
        ctx.report(
            out, msg::kConflictingGateways, gw.meta, "spec.servers[" + std::to_string(i) + "]",
            "Conflict with gateways " + joined(others) + " (workload selector \"" +
                networking::selectorText(gw.spec.selector) + "\", port " +
                std::to_string(*server.port->number) + ", hosts " + joined(server.hosts) + ")");
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeConflictingGatewayAnalyzer() {
  return std::make_unique<ConflictingGatewayAnalyzer>();
}

}  // namespace halyard::config
