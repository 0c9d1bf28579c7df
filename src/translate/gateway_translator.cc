#include "translate/gateway_translator.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "config/model/host_name.h"
#include "translate/match_compiler.h"
#include "translate/model_util.h"
#include "translate/route_builder.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

constexpr std::string_view kDefaultBind = "0.0.0.0";

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Plaintext HTTP protocols a gateway server serves through the HTTP connection manager.
bool isPlainHttp(const std::string& protocol) {
  return protocol == "HTTP" || protocol == "HTTP2" || protocol == "GRPC" || protocol == "GRPC-WEB";
}

}  // namespace

GatewayTranslator::GatewayTranslator(const model::ConfigSet& config,
                                     const std::vector<PreparedVirtualService>& virtual_services,
                                     const ProxyIdentity& proxy, ClusterBuilder& clusters,
                                     DiagnosticSink& sink)
    : config_(config),
      virtual_services_(virtual_services),
      proxy_(proxy),
      clusters_(clusters),
      sink_(sink) {}

std::vector<const PreparedVirtualService*> GatewayTranslator::boundTo(
    const std::string& gateway_name) const {
  std::vector<std::pair<int, const PreparedVirtualService*>> ranked;
  for (const auto& vs : virtual_services_) {
    if (std::find(vs.gateways.begin(), vs.gateways.end(), gateway_name) == vs.gateways.end()) {
      continue;
    }
    const int rank = visibilityRank(vs, proxy_.namespace_);
    if (rank >= 0) ranked.emplace_back(rank, &vs);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const PreparedVirtualService*> out;
  for (const auto& [rank, vs] : ranked) out.push_back(vs);
  return out;
}

RouteTable GatewayTranslator::routeTable(const std::vector<BoundServer>& servers, uint16_t port) {
  RouteBuilder builder(clusters_, sink_);
  std::map<std::string, VirtualHost> vhosts;  // by host, lowercase
  std::map<std::pair<std::string, const PreparedVirtualService*>, std::vector<Route>> built;
  std::set<std::tuple<std::string, const PreparedVirtualService*, std::string>> appended;
  std::map<std::string, std::string> redirect_origins;  // host -> server that requires TLS

  for (const auto& bs : servers) {
    const std::string& gateway_ns = namespaceOf(bs.gateway->meta);
    const bool https_redirect = bs.server->tls && bs.server->tls->https_redirect.value_or(false);
    for (const PreparedVirtualService* vs : boundTo(bs.gateway_name)) {
      // Server hosts whose namespace part admits this VirtualService, intersected with its
      // hosts: the more specific name of each matching pair is the virtual host.
      std::vector<std::string> hosts;
      for (const auto& entry : bs.server->hosts) {
        const model::NamespacedHost sh = model::parseNamespacedHost(entry, gateway_ns);
        if (sh.namespace_ != "*" && sh.namespace_ != vs->namespace_) continue;
        const std::string server_host = toLower(sh.host);
        for (const auto& vh : vs->hosts) {
          std::string h;
          if (model::hostSubsetOf(server_host, vh)) {
            h = server_host;
          } else if (model::hostSubsetOf(vh, server_host)) {
            h = vh;
          } else {
            continue;
          }
          if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
        }
      }
      if (hosts.empty()) continue;

      auto key = std::make_pair(bs.gateway_name, vs);
      auto it = built.find(key);
      if (it == built.end()) {
        RouteScope scope{port, bs.gateway_name, &proxy_};
        it = built.emplace(key, builder.build(*vs, scope)).first;
      }
      // A VirtualService that yields no route on this port adds no virtual host (Istio skips it).
      if (it->second.empty()) continue;
      for (const auto& h : hosts) {
        if (!appended.emplace(bs.gateway_name, vs, h).second) continue;
        VirtualHost& v = vhosts[h];
        v.routes.insert(v.routes.end(), it->second.begin(), it->second.end());
        v.require_tls |= https_redirect;
        if (https_redirect) redirect_origins.try_emplace(h, bs.gateway_name + " tls.httpsRedirect");
      }
    }
    if (https_redirect) {
      // Every server host gets a virtual host that redirects to https, bound or not.
      for (const auto& entry : bs.server->hosts) {
        const std::string host = toLower(model::parseNamespacedHost(entry, gateway_ns).host);
        vhosts[host].require_tls = true;
        redirect_origins.try_emplace(host, bs.gateway_name + " tls.httpsRedirect");
      }
    }
  }

  RouteTable table;
  for (auto& [host, v] : vhosts) {
    v.name = host + ":" + std::to_string(port);
    v.domains = {host, host + ":" + std::to_string(port)};
    // Catch-all routes go last; the others keep their relative order.
    std::stable_partition(v.routes.begin(), v.routes.end(),
                          [](const Route& r) { return !isCatchAll(r.match); });
    if (v.require_tls) {
      // Envoy redirects every request of a require_tls virtual host before matching routes. The
      // proxy acts on a selected route, so a final catch-all redirect to https gives it one when
      // no VirtualService binds the host (or none of its routes matches the request).
      Route redirect;
      RedirectAction action;
      action.scheme = "https";
      redirect.action = std::move(action);
      auto origin = redirect_origins.find(host);
      if (origin != redirect_origins.end()) redirect.origin = origin->second;
      v.routes.push_back(std::move(redirect));
    }
    table.virtual_hosts.push_back(std::move(v));
  }
  return table;
}

std::vector<Listener> GatewayTranslator::build() {
  std::vector<const model::Gateway*> gateways;
  for (const auto& gw : config_.gateways) {
    if (gw.spec.selector.empty() || model::selectorMatches(gw.spec.selector, proxy_.labels)) {
      gateways.push_back(&gw);
    }
  }
  std::stable_sort(gateways.begin(), gateways.end(),
                   [](const auto* a, const auto* b) { return createdBefore(a->meta, b->meta); });

  // Servers grouped by (port, bind): each group is one listener with one route table.
  std::map<std::pair<uint16_t, std::string>, std::vector<BoundServer>> groups;
  std::map<std::pair<uint16_t, std::string>, std::string> protocols;
  for (const auto* gw : gateways) {
    const std::string name = namespaceOf(gw->meta) + "/" + gw->meta.name;
    for (size_t i = 0; i < gw->spec.servers.size(); ++i) {
      const model::Server& server = gw->spec.servers[i];
      const std::string path = "spec.servers[" + std::to_string(i) + "]";
      if (!server.port || !server.port->number || *server.port->number <= 0 ||
          *server.port->number > 65535) {
        continue;  // schema validation reports it
      }
      const auto port = static_cast<uint16_t>(*server.port->number);
      const std::string protocol = upper(server.port->protocol.value_or(""));
      if (!isPlainHttp(protocol)) {
        sink_.report(
            kNotServed, gw->meta, server.port->line, path + ".port.protocol",
            protocol + " server on port " + std::to_string(port) + " is not served yet; skipped");
        continue;
      }
      const std::string bind = server.bind.value_or(std::string(kDefaultBind));
      if (bind.starts_with("unix://")) {
        sink_.report(kNotServed, gw->meta, server.line, path + ".bind",
                     "unix domain socket bind " + bind + " is not served yet; skipped");
        continue;
      }
      auto key = std::make_pair(port, bind);
      protocols.try_emplace(key, protocol);  // the first server names the listener's protocol
      groups[key].push_back(BoundServer{gw, &server, name});
    }
  }

  std::vector<Listener> out;
  for (const auto& [key, servers] : groups) {
    Listener l;
    l.port = key.first;
    l.bind_address = key.second;
    l.name = l.bind_address + "_" + std::to_string(l.port);
    l.protocol = protocols[key];
    l.routes = std::make_shared<const RouteTable>(routeTable(servers, l.port));
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace halyard::translate
