// Gateways selecting a proxy -> its listeners and route tables (istio-semantics.md §1.1, §2):
// one listener per server bind address and port, one virtual host per host a bound
// VirtualService shares with a server, routes of every such VirtualService concatenated in
// Istio's order with catch-all routes moved last. HTTPS servers that terminate TLS (SIMPLE,
// MUTUAL, OPTIONAL_MUTUAL) add one ServerTls each to their port's listener; their virtual hosts
// share the listener's one route table, as plain HTTP servers of one port do.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model/config_set.h"
#include "translate/cluster_builder.h"
#include "translate/credentials.h"
#include "translate/diagnostic_sink.h"
#include "translate/snapshot.h"
#include "translate/translate.h"
#include "translate/virtual_service_set.h"

namespace halyard::translate {

class GatewayTranslator {
 public:
  GatewayTranslator(const config::model::ConfigSet& config,
                    const std::vector<PreparedVirtualService>& virtual_services,
                    const ProxyIdentity& proxy, const CredentialStore& credentials,
                    ClusterBuilder& clusters, DiagnosticSink& sink);

  std::vector<Listener> build();

 private:
  struct BoundServer {
    const config::model::Gateway* gateway;
    const config::model::Server* server;
    std::string gateway_name;  // "ns/name"
    // tls.mode AUTO_PASSTHROUGH: routed by Istio's SNI "outbound_.<port>_.<subset>_.<host>"
    // straight to that cluster, without VirtualServices.
    bool auto_passthrough = false;
    size_t index = 0;  // in the Gateway's servers
  };

  // The VirtualServices bound to `gateway_name` in the order Istio concatenates them: private to
  // the proxy's namespace, then exported to it, then public; each group oldest first.
  std::vector<const PreparedVirtualService*> boundTo(const std::string& gateway_name) const;
  RouteTable routeTable(const std::vector<BoundServer>& servers, uint16_t port);
  // The tcp (or, for TLS passthrough, tls) routes of the VirtualServices bound to `servers`,
  // concatenated in the order boundTo() gives; first match wins at the proxy.
  std::vector<TcpRoute> tcpRoutes(const std::vector<BoundServer>& servers, uint16_t port, bool tls);
  // An AUTO_PASSTHROUGH server's routes: one per service the gateway sees whose host is within
  // the server's hosts, per port of it and per subset (and none), matching its SNI.
  std::vector<TcpRoute> sniDnatRoutes(const BoundServer& bs);
  // The TLS a terminating HTTPS server serves; nullopt (reported) when Istio would not serve the
  // server: a mode that does not terminate here, or a credential that is missing.
  std::optional<ServerTls> serverTls(const config::model::Gateway& gateway,
                                     const std::string& gateway_name,
                                     const config::model::Server& server, size_t index);

  const config::model::ConfigSet& config_;
  const std::vector<PreparedVirtualService>& virtual_services_;
  const ProxyIdentity& proxy_;
  const CredentialStore& credentials_;
  ClusterBuilder& clusters_;
  DiagnosticSink& sink_;
};

}  // namespace halyard::translate
