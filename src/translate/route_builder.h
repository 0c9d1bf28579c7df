// One VirtualService's HTTP routes for one gateway port (istio-semantics.md §1.2-§1.9): each
// match block becomes a route, config-time selectors (port, gateways, sourceLabels,
// sourceNamespace) decide which blocks exist, and actions, rewrites, retries, faults, mirrors,
// CORS and header operations are compiled into the snapshot's types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "translate/cluster_builder.h"
#include "translate/diagnostic_sink.h"
#include "translate/snapshot.h"
#include "translate/translate.h"
#include "translate/virtual_service_set.h"

namespace halyard::translate {

// What the routes are built for.
struct RouteScope {
  uint16_t listener_port = 0;  // the Gateway server port; sidecars: the service port
  std::string gateway;         // "ns/name" of the Gateway whose server this is; sidecars: "mesh"
  const ProxyIdentity* proxy = nullptr;
};

class RouteBuilder {
 public:
  RouteBuilder(ClusterBuilder& clusters, DiagnosticSink& sink) : clusters_(clusters), sink_(sink) {}

  // The routes in order; nothing after the first catch-all (it would never be reached).
  std::vector<Route> build(const PreparedVirtualService& vs, const RouteScope& scope);

  // The route Istio gives a sidecar's service port that no VirtualService claims: any path to
  // `cluster` with the mesh default retry policy and no timeout.
  Route defaultRoute(const std::string& cluster, std::string origin) const;

 private:
  // nullopt when the block is not installed on this gateway/port, or the route is dropped.
  std::optional<Route> translate(const PreparedRoute& r,
                                 const config::model::HTTPMatchRequest* match, size_t match_index,
                                 const RouteScope& scope);
  void applyForward(const PreparedRoute& r, const std::string& route_authority,
                    const RouteScope& scope, Route& out);

  ClusterBuilder& clusters_;
  DiagnosticSink& sink_;
};

}  // namespace halyard::translate
