// One VirtualService's tcp or tls routes for one listener (istio-semantics.md §1.10): each route
// keeps the match blocks this proxy and port install (port, gateways, sourceLabels,
// sourceNamespace are decided here, at config time), and its destinations become weighted
// clusters exactly as HTTP destinations do (subsets, DestinationRule, auto mTLS).
#pragma once

#include <string>
#include <vector>

#include "translate/cluster_builder.h"
#include "translate/diagnostic_sink.h"
#include "translate/route_builder.h"
#include "translate/snapshot.h"
#include "translate/virtual_service_set.h"

namespace halyard::translate {

class TcpRouteBuilder {
 public:
  TcpRouteBuilder(ClusterBuilder& clusters, DiagnosticSink& sink)
      : clusters_(clusters), sink_(sink) {}

  // `vs`'s tcp routes in order, for a listener of `scope`.
  std::vector<TcpRoute> tcp(const PreparedVirtualService& vs, const RouteScope& scope);

  // `vs`'s tls routes in order. `server_hosts` (lowercase, "*" allowed) limit the sniHosts a
  // gateway server admits: an SNI host outside all of them is dropped, the narrower of two
  // intersecting names kept. Empty: no limit (sidecars).
  std::vector<TcpRoute> tls(const PreparedVirtualService& vs, const RouteScope& scope,
                            const std::vector<std::string>& server_hosts);

 private:
  // The weighted clusters of a route's destinations; false (reported) when none is left.
  bool destinations(const PreparedVirtualService& vs,
                    const std::vector<config::model::RouteDestination>& route,
                    const std::string& path, const RouteScope& scope, TcpRoute& out);

  ClusterBuilder& clusters_;
  DiagnosticSink& sink_;
};

// True when `sni` (lowercase, possibly empty) is matched by the SNI host `pattern`: equal, or
// "*.suffix" with sni ending in ".suffix" (one or more labels in front), or "*".
bool sniMatches(std::string_view pattern, std::string_view sni);

}  // namespace halyard::translate
