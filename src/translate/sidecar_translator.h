// A sidecar's listeners (snapshot.h ListenerKind; istio-semantics.md §0.2, §0.3, §1.1): the
// inbound listener in front of its app, the outbound HTTP proxy its app sends requests through,
// and one route table per HTTP service port it can reach. Each service host on such a port gets
// a virtual host; the first mesh VirtualService for the host in Istio's selection order that
// yields routes on the port gives its routes, otherwise a default route to the service. Mesh
// VirtualService hosts that name no service get a virtual host of their own too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "translate/cluster_builder.h"
#include "translate/diagnostic_sink.h"
#include "translate/route_builder.h"
#include "translate/service_registry.h"
#include "translate/snapshot.h"
#include "translate/tcp_route_builder.h"
#include "translate/translate.h"
#include "translate/virtual_service_set.h"

namespace halyard::translate {

class SidecarTranslator {
 public:
  SidecarTranslator(const ServiceRegistry& registry,
                    const std::vector<PreparedVirtualService>& virtual_services,
                    const ProxyIdentity& proxy, ClusterBuilder& clusters, DiagnosticSink& sink);

  // The inbound listener (when the proxy has an app port), the outbound proxy listener, then the
  // port listeners by port. Builds every cluster they name.
  std::vector<Listener> build();

  // The port listeners by port and the clusters they name: the part that reads only the proxy's
  // namespace and labels (translate.h buildSidecarOutbound).
  std::vector<Listener> outboundListeners();

  // The sidecar's own listeners: virtualInbound (when it has an app port; its inbound cluster goes
  // into `clusters`, its AuthorizationPolicies into the listener, what they could not express
  // into `warnings`) and virtualOutbound. Reads no VirtualService, so it is cheap per sidecar.
  static std::vector<Listener> ownListeners(const ServiceRegistry& registry,
                                            const ProxyIdentity& proxy,
                                            std::unordered_map<std::string, Cluster>& clusters,
                                            std::vector<std::string>& warnings);
  // What build() could not express (AuthorizationPolicy notes), for the snapshot's warnings.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  // The addresses an app connecting to `service` on `port` would dial (TcpRoute::host_addresses).
  std::vector<std::string> dialedAddresses(const RegistryService& service, uint16_t port) const;

  // A VirtualService host that names no service the proxy can see ("api.example.com" with no
  // ServiceEntry): it still gets a virtual host, with that VirtualService's routes.
  struct OrphanHost {
    std::string host;
    size_t vs_index;  // into mesh_
  };

  Listener outboundPort(uint16_t port, const std::vector<const RegistryService*>& services,
                        const std::vector<OrphanHost>& orphans);
  // The routes of mesh_[index] on `port` (built once).
  const std::vector<Route>& routesOf(size_t index, uint16_t port);
  std::vector<Route> routesFor(const RegistryService& service, uint16_t port);
  // The TCP route table of `port` ("0.0.0.0_<port>_tcp"): per service, the tls routes (by SNI)
  // and tcp routes of the first mesh VirtualService that has some for it on this port, else (or
  // after tls routes alone) one to its cluster. Services whose port protocol is undeclared are
  // in it too, for a ClientHello sniffed inside a CONNECT tunnel to them.
  Listener outboundTcpPort(uint16_t port, const std::vector<const RegistryService*>& services);
  // Indexes into mesh_ of the VirtualServices naming `host`, in selection order.
  std::vector<size_t> candidatesFor(const std::string& host) const;
  // Orphan hosts by port: the HTTP ports of the services the same VirtualService names, else 80.
  std::map<uint16_t, std::vector<OrphanHost>> orphanHosts(
      const std::vector<const RegistryService*>& visible) const;

  const ServiceRegistry& registry_;
  const ProxyIdentity& proxy_;
  ClusterBuilder& clusters_;
  RouteBuilder routes_;
  TcpRouteBuilder tcp_routes_;
  // Mesh VirtualServices visible to the proxy, in Istio's selection order (private to the
  // proxy's namespace, exported to it, public; each group oldest first), indexed by host.
  std::vector<const PreparedVirtualService*> mesh_;
  std::unordered_map<std::string, std::vector<size_t>> exact_hosts_;  // host -> index in mesh_
  std::vector<std::pair<std::string, size_t>> wildcard_hosts_;
  std::map<std::pair<size_t, uint16_t>, std::vector<Route>> built_;  // (index, port) -> routes
  std::vector<std::string> warnings_;
};

}  // namespace halyard::translate
