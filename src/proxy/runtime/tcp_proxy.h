// A connection proxied as TCP: one accepted on a TCP or TLS passthrough listener
// (translate::Listener::isTcp(): gateway TCP/TLS servers, a sidecar's inbound listener in front
// of a TCP app port), or a CONNECT tunnel on a sidecar's outbound listener to a mesh service
// whose port is TCP or whose first bytes are TLS (connect_tunnel.h).
// Pick the first tcp/tls route whose match holds (the destination this is for; destination
// subnet; for TLS the SNI of the ClientHello, read without terminating TLS), one of its
// destinations by weight, a host of that cluster by its load balancer; connect (with the
// cluster's TLS: Istio mutual TLS to sidecars under auto mTLS) and splice both ways until both
// sides are done or the idle timeout. No route, no cluster, no healthy host or a failed connect
// closes the client's connection, as Envoy's tcp_proxy does; each is logged and counted.
#pragma once

#include <asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/local_shared.h"
#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/request_record.h"
#include "proxy/runtime/worker_snapshot.h"
#include "telemetry/peer_identity.h"
#include "telemetry/response_flags.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

// The first route of `routes` a connection to `destination` with `sni` (TLS; nullopt when the
// ClientHello has none, or for TCP) takes; null when none.
const translate::TcpRoute* matchTcpRoute(const std::vector<translate::TcpRoute>& routes,
                                         const asio::ip::address& destination,
                                         const std::optional<std::string>& sni);

// What a connection to a sidecar's outbound table is: for `host` (a route whose `hosts` do not
// name it is for another service), to `destination` when the target was an address (else a
// match block's destinationSubnets are checked against the route's host_addresses, the
// addresses the host stands for), TLS or not (a `tls` route, one whose match
// blocks name SNI hosts, is only for TLS), with that SNI.
struct TcpTarget {
  std::string_view host;  // lowercase
  std::optional<asio::ip::address> destination;
  bool tls = false;
  std::optional<std::string> sni;
};
const translate::TcpRoute* matchTcpRoute(const std::vector<translate::TcpRoute>& routes,
                                         const TcpTarget& target);

// True when some route of `routes` is for `host` (its `hosts` name it, exactly or by a
// "*.suffix" wildcard); `tls_only`: only `tls` routes count.
bool hasTcpRouteFor(const std::vector<translate::TcpRoute>& routes, std::string_view host,
                    bool tls_only);

// True when `address` is within `cidr` ("10.0.0.0/8", "fd00::/8", or a plain address).
bool inSubnet(const asio::ip::address& address, std::string_view cidr);

// A sidecar inbound's caller, known by the namespace and service account of its certificate: the
// workload, app and version the registry has for that pair (Listener::peer_workloads), as views
// into the listener; left as they are when the pair names no single workload.
void fillPeerWorkload(const translate::Listener& listener, telemetry::PeerIdentity& peer);

// The readable bytes of `buffer` start a TLS record (a ClientHello, where a connection starts).
bool startsWithTlsRecord(const net::ByteBuffer& buffer);

// The readable bytes of `buffer` may start an HTTP request: a method's first letter (HTTP/2's
// preface starts with "PRI").
bool startsLikeHttp(const net::ByteBuffer& buffer);

// An HTTP listener's connection whose first bytes (already in ds.in) are TLS, or cannot start an
// HTTP request, while the listener has tcp routes for that (a sidecar's inbound listener in
// front of an app port whose protocol was not declared: Istio sniffs it): runTcpProxy serves it.
bool sniffedTcp(const Downstream& ds);

// MeshConfig protocolDetectionTimeout: waits up to `timeout` for the client's first bytes (into
// ds.in); true when none came in time, the sign of a protocol whose server speaks first. False at
// once when bytes are already there or `timeout` is 0 (no timeout: the client must speak first),
// and when the client sent bytes, closed or failed in time (the caller's reads then see which).
net::awaitable<bool> clientStaysSilent(Downstream& ds, translate::Millis timeout);

// The worker's current snapshot has a listener with a protocol detection timeout: else no
// connection waits for a silent client, and silentOnSniffedPort and silentBeforeTlsSniff are
// false at once. Cheap (no lookup, no reference taken): callers check it before starting either.
bool detectsSilentClients(const Downstream& ds);

// clientStaysSilent on a sidecar inbound listener that sniffs (an app port of undeclared protocol,
// not HTTP/2 by ALPN) with its listener's timeout: true means the connection is plain TCP for
// runTcpProxy, as Istio treats a connection whose detection timed out. A client that already
// stayed silent before the TLS sniff (silentBeforeTlsSniff) is not waited for again.
net::awaitable<bool> silentOnSniffedPort(Downstream& ds);

// Before a PERMISSIVE inbound listener peeks at the first byte to tell mutual TLS from plaintext:
// true when nothing arrives within the listener's protocol detection timeout (nothing is read),
// and the connection is then plaintext, as Envoy's TLS inspector gives up after Istio's timeout
// (ds.stayed_silent remembers it). False at once without a timeout.
net::awaitable<bool> silentBeforeTlsSniff(Downstream& ds);

// Serves one accepted connection whose transport is set up (plaintext, or the inbound listener's
// mutual TLS, whose peer identity `ds` holds) with its listener's routes; returns when both
// sides are closed. Bytes already read into ds.in (protocol sniffing) are relayed first.
net::awaitable<void> runTcpProxy(Downstream& ds);

// What a CONNECT tunnel needs to hear from the TCP proxy: the client is answered
// "200 Connection Established" once the upstream is connected (or before, when the first bytes
// must be read to route), and a failure before that is answered with its status and reason.
class TcpProxyClient {
 public:
  virtual ~TcpProxyClient() = default;
  // The upstream is connected: answer the client. False: it is gone.
  virtual net::awaitable<bool> connected() = 0;
  // Routing or connecting failed before connected(): answer with the reason.
  virtual net::awaitable<void> failed(telemetry::ResponseFlag flag, std::string_view reason) = 0;
};

struct TcpTunnel {
  const translate::Listener* table = nullptr;  // the port's outbound listener (its tcp_routes)
  std::string_view host;                       // the CONNECT target's host, lowercase
  uint16_t port = 0;
  // The client has been answered already and its first bytes decide whether it speaks TLS:
  // kSniff waits for them (a server-first protocol sends none: not TLS once the ClientHello
  // timeout passes), kTls knows they start a TLS record.
  enum class Tls { kNone, kSniff, kTls };
  Tls tls = Tls::kNone;
};

// A CONNECT tunnel proxied as TCP with `tunnel.table`'s routes for its host; `record` (the
// CONNECT's, or one of its own for what a tunnel to an HTTP port turned out to carry) is logged
// and counted as the TCP connection, with reporter "source". `client` null: already answered.
// The client's unread bytes in ds.in go first.
net::awaitable<void> runTcpTunnel(Downstream& ds,
                                  common::LocalShared<const WorkerSnapshot> snapshot,
                                  RequestRecord& record, const TcpTunnel& tunnel,
                                  TcpProxyClient* client);

}  // namespace halyard::proxy::runtime
