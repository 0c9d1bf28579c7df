// `CONNECT host:port` on the sidecar's outbound proxy listener, for apps that reach the mesh
// through HTTP_PROXY (curl -p, https through a proxy, Python's set_tunnel):
//
// - host:port names a mesh service (a virtual host of that port's outbound route table, as an
//   absolute-form request to it would find): "200 Connection Established", then the tunnel is a
//   connection intercepted for that service and port. HTTP/1.1 inside is served by the normal
//   request path with that port's routes (the caller goes on reading request heads); a TLS
//   ClientHello instead, or on a port of undeclared protocol bytes that are not HTTP, is proxied
//   as TCP (serveTcpInTunnel), as Istio's protocol sniffing does.
// - host:port names a TCP service port (the port's "0.0.0.0_<port>_tcp" table has routes for the
//   host): the tunnel is proxied as TCP with that table (tcp_proxy.h): `tls` routes by the
//   ClientHello's SNI when the host has some, else its `tcp` routes or the service itself. It is
//   answered 200 once the upstream is connected (a failure before that: 503, or 404 for no
//   route, with the reason), or at once when the first bytes are needed to route.
// - any other host: MeshConfig outboundTrafficPolicy (carried by the outbound listener).
//   ALLOW_ANY (Istio's default): resolved and connected directly (Istio's PassthroughCluster),
//   answered 200 once connected, then spliced both ways. REGISTRY_ONLY: 502 with the reason,
//   as Istio's BlackHole virtual host answers HTTP requests.
//
// Nothing waits forever: the upstream connect has a timeout, the splice the idle timeout, and a
// target that is not host:port is answered 400.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/request_state.h"

namespace halyard::proxy::runtime {

// How long a passthrough connect may take (Istio's default connectTimeout).
inline constexpr std::chrono::seconds kPassthroughConnectTimeout{10};

// A CONNECT target split into host and port; nullopt when it is not host:port (a name or IPv4
// address, or a bracketed IPv6 address, and a port 1-65535).
struct ConnectTarget {
  std::string_view host;  // without brackets
  uint16_t port = 0;
};
std::optional<ConnectTarget> parseConnectTarget(std::string_view target);

// What the connection does after a CONNECT.
struct ConnectResult {
  // Set: the tunnel carries HTTP/1.1 for a mesh service on this port; the connection goes on
  // serving requests with that port's routes. Unset: the connection closes (rq.close is set).
  std::optional<uint16_t> serve_http_port;
  // The tunnel was proxied as TCP, and logged and counted as such: no request report.
  bool reported = false;
};

// Strings the access log entry of the CONNECT points into, and the target of a tunnel to a mesh
// service; owned by the connection.
struct ConnectLogStorage {
  std::string upstream_host;
  std::string tunnel_host;  // lowercase, for a ClientHello sniffed inside the tunnel
  std::string tunnel_authority;
};

// Serves the CONNECT in rq (its head consumed from ds.in): answers it and, for a passthrough,
// splices until the tunnel ends. Fills the access log entry (status, bytes, upstream).
net::awaitable<ConnectResult> serveConnect(Downstream& ds, RequestState& rq,
                                           ConnectLogStorage& storage);

// Whether the first bytes inside a tunnel to a mesh service's HTTP port (in ds.in) are for
// serveTcpInTunnel: a TLS record, or bytes that cannot start an HTTP request on a port of
// undeclared protocol.
bool tunnelCarriesTcp(const Downstream& ds, uint16_t port, const ConnectLogStorage& storage);

// Whether a tunnel to a mesh service's port of undeclared protocol stays silent (nothing in ds.in
// yet) for the outbound listener's protocol detection timeout (clientStaysSilent): a server-first
// protocol, for serveTcpInTunnel. False at once on a port declared HTTP, or without a timeout.
net::awaitable<bool> tunnelStaysSilent(Downstream& ds, uint16_t port,
                                       const ConnectLogStorage& storage);

// Proxies such a tunnel as TCP with the port's TCP table (the service's `tls` routes by SNI, else
// the service itself) when the port's protocol was not declared (Istio sniffs those); a
// ClientHello to a port declared HTTP closes the tunnel with the reason. One access log line and
// Istio's TCP metrics.
net::awaitable<void> serveTcpInTunnel(Downstream& ds, uint16_t port, ConnectLogStorage& storage);

// A plain request on the outbound proxy listener whose authority no virtual host of its port
// takes: a host outside the registry.
bool outsideRegistry(const Downstream& ds, const RequestState& rq);

// Serves such a request as MeshConfig outboundTrafficPolicy says: REGISTRY_ONLY answers 502
// with the reason; ALLOW_ANY passes it to the host itself (Istio's PassthroughCluster): the
// head goes out in origin-form with "Connection: close", then bytes are spliced both ways until
// the upstream ends, and the client's connection closes after the response.
net::awaitable<void> serveOutsideRegistry(Downstream& ds, RequestState& rq,
                                          ConnectLogStorage& storage);

}  // namespace halyard::proxy::runtime
