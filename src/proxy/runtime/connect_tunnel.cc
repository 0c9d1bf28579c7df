#include "proxy/runtime/connect_tunnel.h"

#include <asio/buffer.hpp>
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <charconv>

#include "common/log.h"
#include "proxy/net/socket_util.h"
#include "proxy/runtime/hop_by_hop.h"
#include "proxy/runtime/responder.h"
#include "proxy/runtime/tcp_proxy.h"
#include "proxy/runtime/tunnel.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;
using telemetry::ResponseFlag;

namespace {

constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection Established\r\n\r\n";
// Istio's name for the cluster that forwards to the address the app asked for.
constexpr std::string_view kPassthroughCluster = "PassthroughCluster";

bool hostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

net::awaitable<ConnectResult> refuse(Downstream& ds, RequestState& rq, uint16_t status,
                                     ResponseFlag flag, std::string_view details) {
  rq.close = true;
  co_await sendFailure(ds, rq, RequestFailure{status, flag, details});
  co_return ConnectResult{};
}

// Whether host:port is a mesh service: a virtual host of the port's outbound route table takes
// it, as it would take an absolute-form request to http://host:port/.
bool isMeshService(const RequestState& rq, const ConnectTarget& target) {
  const WorkerSnapshot* snapshot = rq.snapshot.get();
  const ListenerRoutes* routes = snapshot ? snapshot->outboundPort(target.port) : nullptr;
  if (!routes) return false;
  http::RequestView view = rq.view;
  view.authority = rq.head->target;
  view.path = "/";
  return routes->index.select(view).virtual_host != nullptr;
}

// MeshConfig outboundTrafficPolicy, as the outbound proxy listener carries it.
bool registryOnly(const Downstream& ds, const RequestState& rq) {
  const WorkerSnapshot* snapshot = rq.snapshot.get();
  const ListenerRoutes* own = snapshot ? snapshot->listener(ds.listener->name) : nullptr;
  return own && own->listener->registry_only;
}

// ALLOW_ANY: connects to host:port itself and splices until both sides are done. A CONNECT is
// answered 200 once connected; a plain request has `request_head` sent first (its body, and
// whatever else the client sends, follow as they come).
net::awaitable<void> passThrough(Downstream& ds, RequestState& rq, std::string_view host,
                                 uint16_t port, std::string_view request_head,
                                 ConnectLogStorage& storage) {
  telemetry::AccessLogEntry& log = rq.record.log;
  log.upstream_cluster = kPassthroughCluster;
  const std::string where = std::string(host) + ":" + std::to_string(port);
  const auto executor = ds.transport.executor();
  asio::ip::tcp::resolver resolver(executor);
  net::Transport upstream(executor);
  // One deadline for the name lookup and the connect together.
  ds.read_timer.arm(kPassthroughConnectTimeout, [&resolver, &upstream] {
    resolver.cancel();
    upstream.cancel();
  });
  auto [rec, results] =
      co_await resolver.async_resolve(std::string(host), std::to_string(port),
                                      asio::ip::tcp::resolver::numeric_service, net::kAwait);
  asio::error_code ec = rec;
  asio::ip::tcp::endpoint connected;
  if (!ec) {
    auto [cec, endpoint] = co_await asio::async_connect(upstream.socket(), results, net::kAwait);
    ec = cec;
    connected = endpoint;
  }
  const bool timed_out = ds.read_timer.fired();
  ds.read_timer.disarm();
  if (ec) {
    const std::string cause =
        timed_out ? "no answer within " + std::to_string(kPassthroughConnectTimeout.count()) + " s"
                  : ec.message();
    rq.reason = where + " is not in the mesh's registry, and passing it through " +
                "(outboundTrafficPolicy ALLOW_ANY) failed: " +
                (rec ? "cannot resolve " + std::string(host) : "cannot connect to " + where) +
                ": " + cause;
    HLOG_DEBUG("{} {} from {}: {}", rq.head->method, rq.head->target, ds.remote_endpoint,
               rq.reason);
    co_await refuse(ds, rq, 503, ResponseFlag::kUpstreamConnectionFailure,
                    rec ? "dns_resolution_failure" : "upstream_connect_failure");
    co_return;
  }
  net::setNoDelay(upstream.socket());
  storage.upstream_host = connected.address().to_string() + ":" + std::to_string(connected.port());
  log.upstream_host = storage.upstream_host;
  log.response_code_details = "passthrough";
  rq.close = true;  // the connection ends with the splice
  if (request_head.empty()) {
    log.response_code = 200;
    if (!co_await writeToClient(ds, rq, asio::buffer(kEstablished))) co_return;
  } else {
    // The response is relayed as bytes, not parsed: its status is not known here.
    auto [wec, n] = co_await upstream.writeAll(asio::buffer(request_head));
    if (wec) {
      rq.reason = "cannot send the request to " + where + ": " + wec.message();
      co_await refuse(ds, rq, 503, ResponseFlag::kUpstreamConnectionFailure,
                      "upstream_reset_before_response_started");
      co_return;
    }
  }
  net::ByteBuffer from_upstream(16 * 1024);
  const SpliceBytes bytes = co_await runSplice(ds, rq.head->head_bytes, upstream, from_upstream);
  log.bytes_sent += bytes.to_client;
  rq.tunnel_bytes_received = bytes.from_client;
  upstream.close();
}

// The head of a plain request passed through: origin-form, without the fields that belong to
// the client's connection, and with "Connection: close" so the upstream ends the splice after
// its response (a next request on the client's connection may be for another host).
std::string passThroughHead(const http::RequestHead& head) {
  std::string out;
  out.append(head.method).append(" ").append(head.path).append(" HTTP/1.1\r\n");
  if (head.host.empty()) out.append("host: ").append(head.authority).append("\r\n");
  for (const http::HeaderView& h : head.headers) {
    if (h.name == "connection" || h.name == "proxy-connection" || h.name == "keep-alive" ||
        h.name == "upgrade" || namedByConnection(head.headers, h.name)) {
      continue;
    }
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  out.append("connection: close\r\n\r\n");
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The TCP table of the target's port, when it has routes for the host.
const tr::Listener* tcpServiceTable(const RequestState& rq, uint16_t port, std::string_view host) {
  const WorkerSnapshot* snapshot = rq.snapshot.get();
  const ListenerRoutes* routes = snapshot ? snapshot->outboundTcpPort(port) : nullptr;
  if (!routes || !hasTcpRouteFor(routes->listener->tcp_routes, host, false)) return nullptr;
  return routes->listener;
}

// Answers a CONNECT proxied as TCP when the TCP proxy knows how it went.
class ConnectAnswer final : public TcpProxyClient {
 public:
  ConnectAnswer(Downstream& ds, RequestState& rq) : ds_(ds), rq_(rq) {}

  net::awaitable<bool> connected() override {
    rq_.record.log.response_code = 200;
    co_return co_await writeToClient(ds_, rq_, asio::buffer(kEstablished));
  }

  net::awaitable<void> failed(ResponseFlag flag, std::string_view reason) override {
    rq_.reason = std::string(reason);
    rq_.close = true;
    // Envoy answers a CONNECT it has no route for 404, one it cannot connect 503.
    const bool no_route = flag == ResponseFlag::kNoRouteFound;
    co_await sendFailure(ds_, rq_,
                         RequestFailure{uint16_t(no_route ? 404 : 503), flag,
                                        no_route ? "route_not_found" : "upstream_connect_failure"});
  }

 private:
  Downstream& ds_;
  RequestState& rq_;
};

// A CONNECT to a TCP service port: proxied as TCP, the CONNECT's record logged and counted as
// the TCP connection.
net::awaitable<void> serveTcpService(Downstream& ds, RequestState& rq, const tr::Listener& table,
                                     const ConnectTarget& target, ConnectLogStorage& storage) {
  storage.tunnel_host = lowercase(target.host);
  rq.close = true;  // the connection ends with the tunnel
  rq.record.log.response_code_details = "connect_to_mesh_service";
  TcpTunnel tunnel;
  tunnel.table = &table;
  tunnel.host = storage.tunnel_host;
  tunnel.port = target.port;
  ConnectAnswer answer(ds, rq);
  TcpProxyClient* client = &answer;
  if (hasTcpRouteFor(table.tcp_routes, tunnel.host, true)) {
    // The ClientHello's SNI picks among the host's tls routes: the client is answered first, so
    // that it sends one.
    if (!co_await answer.connected()) {
      ds.worker.telemetry().tcpDone(rq.record, false);
      co_return;
    }
    client = nullptr;
    tunnel.tls = TcpTunnel::Tls::kSniff;
  }
  co_await runTcpTunnel(ds, rq.snapshot, rq.record, tunnel, client);
}

}  // namespace

std::optional<ConnectTarget> parseConnectTarget(std::string_view target) {
  const size_t colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = target.substr(0, colon);
  const std::string_view port_text = target.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
    for (char c : host) {
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return std::nullopt;
    }
  } else {
    for (char c : host) {
      if (!hostNameChar(c)) return std::nullopt;
    }
  }
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return ConnectTarget{host, static_cast<uint16_t>(port)};
}

net::awaitable<ConnectResult> serveConnect(Downstream& ds, RequestState& rq,
                                           ConnectLogStorage& storage) {
  telemetry::AccessLogEntry& log = rq.record.log;
  log.authority = rq.head->target;
  const std::optional<ConnectTarget> target = parseConnectTarget(rq.head->target);
  if (!target) {
    rq.reason = "CONNECT target \"" + std::string(rq.head->target) +
                "\" is not host:port (a host name or address, and a port from 1 to 65535)";
    co_return co_await refuse(ds, rq, 400, ResponseFlag::kDownstreamProtocolError,
                              "connect_target_invalid");
  }
  if (isMeshService(rq, *target)) {
    // The tunnel is now a connection intercepted for this service and port: what the app sends
    // next is served by the request path with that port's routes.
    log.response_code = 200;
    log.response_code_details = "connect_to_mesh_service";
    if (!co_await writeToClient(ds, rq, asio::buffer(kEstablished))) co_return ConnectResult{};
    // The tunnel stays open whatever the CONNECT's version said about keep-alive (Python's
    // http.client tunnels with an HTTP/1.0 CONNECT).
    rq.close = ds.worker.draining();
    storage.tunnel_host = lowercase(target->host);
    storage.tunnel_authority = std::string(rq.head->target);
    co_return ConnectResult{target->port};
  }
  if (const tr::Listener* table = tcpServiceTable(rq, target->port, lowercase(target->host))) {
    co_await serveTcpService(ds, rq, *table, *target, storage);
    co_return ConnectResult{std::nullopt, true};
  }
  if (registryOnly(ds, rq)) {
    // Istio's REGISTRY_ONLY sends such HTTP requests to its BlackHole virtual host, which
    // answers 502; the CONNECT gets the same status.
    rq.reason = std::string(target->host) + " is not in the mesh's registry (no Service or " +
                "ServiceEntry has it on port " + std::to_string(target->port) +
                ") and outboundTrafficPolicy is REGISTRY_ONLY";
    rq.record.log.upstream_cluster = "BlackHoleCluster";
    co_return co_await refuse(ds, rq, 502, ResponseFlag::kNoRouteFound,
                              "outbound_traffic_policy_registry_only");
  }
  co_await passThrough(ds, rq, target->host, target->port, {}, storage);
  co_return ConnectResult{};
}

namespace {

// The port's TCP table when it has routes for the tunnel's host (a TCP port, or one of
// undeclared protocol); null otherwise.
const tr::Listener* tunnelTcpTable(const WorkerSnapshot* snapshot, uint16_t port,
                                   const ConnectLogStorage& storage) {
  const ListenerRoutes* routes = snapshot ? snapshot->outboundTcpPort(port) : nullptr;
  return routes && hasTcpRouteFor(routes->listener->tcp_routes, storage.tunnel_host, false)
             ? routes->listener
             : nullptr;
}

}  // namespace

bool tunnelCarriesTcp(const Downstream& ds, uint16_t port, const ConnectLogStorage& storage) {
  if (startsWithTlsRecord(ds.in)) return true;
  if (startsLikeHttp(ds.in)) return false;
  // Other bytes: TCP where the port's protocol was not declared (Istio's sniffing); on a port
  // declared HTTP they are read as HTTP and answered 400.
  const common::LocalShared<const WorkerSnapshot> snapshot = ds.worker.snapshot();
  return tunnelTcpTable(snapshot.get(), port, storage) != nullptr;
}

net::awaitable<bool> tunnelStaysSilent(Downstream& ds, uint16_t port,
                                       const ConnectLogStorage& storage) {
  if (ds.in.readableSize() > 0 || !detectsSilentClients(ds)) co_return false;
  translate::Millis timeout{0};
  {
    const common::LocalShared<const WorkerSnapshot> snapshot = ds.worker.snapshot();
    if (!tunnelTcpTable(snapshot.get(), port, storage)) co_return false;
    const ListenerRoutes* own = snapshot->listener(ds.listener->name);
    if (!own) co_return false;
    timeout = own->listener->protocol_detection_timeout;
  }
  co_return co_await clientStaysSilent(ds, timeout);
}

net::awaitable<void> serveTcpInTunnel(Downstream& ds, uint16_t port, ConnectLogStorage& storage) {
  common::LocalShared<const WorkerSnapshot> snapshot = ds.worker.snapshot();
  RequestRecord record;
  record.listener = ds.listener->name;
  record.listener_kind = ds.listener->kind;
  record.log.start_time = std::chrono::system_clock::now();
  record.log.downstream_local_address = ds.local_endpoint;
  record.log.downstream_remote_address = ds.remote_endpoint;
  record.log.authority = storage.tunnel_authority;
  // The outbound listener's Telemetry API settings, as for its requests.
  if (const ListenerRoutes* own = snapshot ? snapshot->listener(ds.listener->name) : nullptr) {
    record.telemetry = own->listener->telemetry.get();
  }
  const tr::Listener* table = tunnelTcpTable(snapshot.get(), port, storage);
  const bool tls = startsWithTlsRecord(ds.in);
  if (!table) {
    // A port declared HTTP (by name or appProtocol) carries HTTP only, as in Istio.
    const std::string why = "a TLS ClientHello inside a CONNECT tunnel to " +
                            storage.tunnel_authority +
                            ", whose port is declared HTTP; name the port https-... or tls-... "
                            "(or leave its protocol undeclared) to pass TLS through";
    record.log.response_flags.set(ResponseFlag::kNoRouteFound);
    record.log.connection_termination_details = why;
    HLOG_DEBUG("tunnel from {}: {}", ds.remote_endpoint, why);
    ds.worker.telemetry().tcpDone(record, false);
    co_return;
  }
  TcpTunnel tunnel;
  tunnel.table = table;
  tunnel.host = storage.tunnel_host;
  tunnel.port = port;
  tunnel.tls = tls ? TcpTunnel::Tls::kTls : TcpTunnel::Tls::kNone;
  co_await runTcpTunnel(ds, std::move(snapshot), record, tunnel, nullptr);
}

bool outsideRegistry(const Downstream& ds, const RequestState& rq) {
  if (ds.listener->kind != tr::ListenerKind::kOutboundProxy) return false;
  return !rq.routes || !rq.routes->index.select(rq.view).virtual_host;
}

net::awaitable<void> serveOutsideRegistry(Downstream& ds, RequestState& rq,
                                          ConnectLogStorage& storage) {
  const std::string_view host = router::hostWithoutPort(rq.view.authority);
  const uint16_t port = router::authorityPort(rq.view.authority, 80);
  if (registryOnly(ds, rq)) {
    // Istio's REGISTRY_ONLY routes such requests to its BlackHole virtual host: 502.
    rq.reason = std::string(host) + " is not in the mesh's registry (no Service or " +
                "ServiceEntry has it on port " + std::to_string(port) +
                ") and outboundTrafficPolicy is REGISTRY_ONLY";
    rq.record.log.upstream_cluster = "BlackHoleCluster";
    co_await sendFailure(
        ds, rq,
        RequestFailure{502, ResponseFlag::kNoRouteFound, "outbound_traffic_policy_registry_only"});
    co_return;
  }
  if (host.empty() || rq.head->target.starts_with("https:") || rq.head->upgrade) {
    rq.reason = "no route for host " + std::string(host) +
                ": it is outside the mesh's registry and only plain HTTP/1.1 requests (no "
                "upgrades) to such hosts are passed through";
    co_await sendFailure(ds, rq,
                         RequestFailure{404, ResponseFlag::kNoRouteFound, "route_not_found"});
    co_return;
  }
  co_await passThrough(ds, rq, host, port, passThroughHead(*rq.head), storage);
}

}  // namespace halyard::proxy::runtime
