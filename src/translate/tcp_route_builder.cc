#include "translate/tcp_route_builder.h"

#include <algorithm>

#include "config/model/host_name.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

// Config-time selection of one match block, as Istio's gateway and sidecar TCP filter chains
// decide it: the port, when set, must be the listener's; per-match gateways, when set, must
// name this gateway (or "mesh" on a sidecar); sourceLabels must be among the proxy's own labels
// and sourceNamespace its namespace.
template <typename Match>
bool installedHere(const Match& m, const std::string& vs_namespace, const RouteScope& scope) {
  if (m.port && *m.port != scope.listener_port) return false;
  if (!m.gateways.empty()) {
    bool named = false;
    for (const auto& g : m.gateways) {
      named = named || model::resolveGatewayName(g, vs_namespace) == scope.gateway;
    }
    if (!named) return false;
  }
  if (!model::selectorMatches(m.source_labels, scope.proxy->labels)) return false;
  return !m.source_namespace || m.source_namespace->empty() ||
         *m.source_namespace == scope.proxy->namespace_;
}

std::string lower(std::string_view s) {
  return toLower(s);
}

std::string refName(const model::ObjectMeta& meta) {
  return namespaceOf(meta) + "/" + meta.name;
}

}  // namespace

bool sniMatches(std::string_view pattern, std::string_view sni) {
  if (pattern == "*") return true;
  if (pattern.starts_with("*.")) {
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    return sni.size() > suffix.size() && sni.ends_with(suffix);
  }
  return pattern == sni;
}

bool TcpRouteBuilder::destinations(const PreparedVirtualService& vs,
                                   const std::vector<model::RouteDestination>& route,
                                   const std::string& path, const RouteScope& scope,
                                   TcpRoute& out) {
  const model::ObjectMeta& meta = vs.source->meta;
  for (size_t i = 0; i < route.size(); ++i) {
    const auto& dst = route[i];
    // As for HTTP: one destination takes everything; among several, weight 0 (or none) drops.
    const int64_t weight = route.size() == 1 ? 1 : dst.weight.value_or(0);
    if (weight <= 0 || !dst.destination || !dst.destination->host) continue;
    model::Destination d = *dst.destination;
    d.host = toLower(model::resolveShortName(*d.host, vs.namespace_));
    WeightedCluster wc;
    wc.cluster = clusters_.resolve(
        d, DestinationRef{&meta, path + ".route[" + std::to_string(i) + "].destination"},
        vs.namespace_, scope.listener_port);
    wc.weight = static_cast<uint32_t>(weight);
    out.total_weight += wc.weight;
    out.clusters.push_back(std::move(wc));
  }
  if (out.clusters.empty()) {
    sink_.report(kUntranslatable, meta, 0, path + ".route",
                 "the route has no destination with a weight above 0; it is dropped");
    return false;
  }
  return true;
}

std::vector<TcpRoute> TcpRouteBuilder::tcp(const PreparedVirtualService& vs,
                                           const RouteScope& scope) {
  std::vector<TcpRoute> out;
  const auto& routes = vs.source->spec.tcp;
  for (size_t i = 0; i < routes.size(); ++i) {
    const model::TCPRoute& r = routes[i];
    const std::string path = "spec.tcp[" + std::to_string(i) + "]";
    TcpRoute route;
    route.origin = refName(vs.source->meta) + " tcp[" + std::to_string(i) + "]";
    bool any = r.match.empty();
    for (const auto& m : r.match) {
      if (!installedHere(m, vs.namespace_, scope)) continue;
      any = true;
      TcpRouteMatch match;
      match.destination_subnets = m.destination_subnets;
      if (match.destination_subnets.empty()) {
        // A block without runtime conditions matches every connection: the others are moot.
        route.matches.clear();
        break;
      }
      route.matches.push_back(std::move(match));
    }
    if (!any) continue;
    if (!destinations(vs, r.route, path, scope, route)) continue;
    const bool catch_all = route.matches.empty();
    out.push_back(std::move(route));
    if (catch_all) break;  // nothing after it could be reached
  }
  return out;
}

std::vector<TcpRoute> TcpRouteBuilder::tls(const PreparedVirtualService& vs,
                                           const RouteScope& scope,
                                           const std::vector<std::string>& server_hosts) {
  std::vector<TcpRoute> out;
  const auto& routes = vs.source->spec.tls;
  for (size_t i = 0; i < routes.size(); ++i) {
    const model::TLSRoute& r = routes[i];
    const std::string path = "spec.tls[" + std::to_string(i) + "]";
    TcpRoute route;
    route.origin = refName(vs.source->meta) + " tls[" + std::to_string(i) + "]";
    for (const auto& m : r.match) {
      if (!installedHere(m, vs.namespace_, scope)) continue;
      TcpRouteMatch match;
      match.destination_subnets = m.destination_subnets;
      for (const auto& raw : m.sni_hosts) {
        const std::string sni = lower(raw);
        if (server_hosts.empty()) {
          match.sni_hosts.push_back(sni);
          continue;
        }
        for (const auto& server_host : server_hosts) {
          std::string kept;
          if (model::hostSubsetOf(sni, server_host)) {
            kept = sni;
          } else if (model::hostSubsetOf(server_host, sni)) {
            kept = server_host;
          } else {
            continue;
          }
          if (std::find(match.sni_hosts.begin(), match.sni_hosts.end(), kept) ==
              match.sni_hosts.end()) {
            match.sni_hosts.push_back(std::move(kept));
          }
        }
      }
      // sniHosts is required (validation says so); a block left with none matches nothing.
      if (match.sni_hosts.empty()) continue;
      route.matches.push_back(std::move(match));
    }
    if (route.matches.empty()) continue;
    if (!destinations(vs, r.route, path, scope, route)) continue;
    out.push_back(std::move(route));
  }
  return out;
}

}  // namespace halyard::translate
