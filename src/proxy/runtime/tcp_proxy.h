// A connection accepted on a TCP or TLS passthrough listener (translate::Listener::isTcp():
// gateway TCP/TLS servers, a sidecar's inbound listener in front of a TCP app port):
// pick the first tcp/tls route whose match holds (destination subnet; for TLS the SNI of the
// ClientHello, read without terminating TLS), one of its destinations by weight, a host of that
// cluster by its load balancer; connect (with the cluster's TLS: Istio mutual TLS to sidecars
// under auto mTLS) and splice both ways until both sides are done or the idle timeout. No route,
// no cluster, no healthy host or a failed connect closes the client's connection, as Envoy's
// tcp_proxy does; each is logged and counted.
#pragma once

#include <asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

// The first route of `routes` a connection to `destination` with `sni` (TLS; nullopt when the
// ClientHello has none, or for TCP) takes; null when none.
const translate::TcpRoute* matchTcpRoute(const std::vector<translate::TcpRoute>& routes,
                                         const asio::ip::address& destination,
                                         const std::optional<std::string>& sni);

// True when `address` is within `cidr` ("10.0.0.0/8", "fd00::/8", or a plain address).
bool inSubnet(const asio::ip::address& address, std::string_view cidr);

// Serves one accepted connection whose transport is set up (plaintext, or the inbound listener's
// mutual TLS, whose peer identity `ds` holds); returns when both sides are closed.
net::awaitable<void> runTcpProxy(Downstream& ds);

}  // namespace halyard::proxy::runtime
