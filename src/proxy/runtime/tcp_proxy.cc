#include "proxy/runtime/tcp_proxy.h"

#include <algorithm>
#include <asio/ip/network_v4.hpp>
#include <asio/ip/network_v6.hpp>
#include <charconv>
#include <chrono>

#include "common/log.h"
#include "proxy/authz/authorizer.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/op_timer.h"
#include "proxy/net/socket_util.h"
#include "proxy/net/transport.h"
#include "proxy/runtime/ext_authz_client.h"
#include "proxy/runtime/request_phases.h"
#include "proxy/runtime/splice.h"
#include "proxy/runtime/worker.h"
#include "proxy/tls/client_hello.h"
#include "proxy/upstream/load_balancer.h"
#include "proxy/upstream/upstream_host.h"
#include "telemetry/peer_identity.h"
#include "telemetry/response_flags.h"
#include "translate/tcp_route_builder.h"

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;

namespace {

// Reads the connection's first bytes into `buffer` until they hold a whole ClientHello (they are
// replayed to the upstream untouched, so reading is as good as peeking). nullopt: the client
// went away, sent something that is not TLS, or took longer than `timeout`.
net::awaitable<std::optional<tls::ClientHelloSni>> readClientHello(net::Transport& transport,
                                                                   net::ByteBuffer& buffer,
                                                                   Millis timeout) {
  net::OpTimer timer(transport.executor());
  timer.arm(timeout, [&transport] { transport.cancel(); });
  std::optional<tls::ClientHelloSni> out;
  while (true) {
    const auto readable = buffer.readableView();
    tls::ClientHelloSni hello = tls::readClientHelloSni(
        std::span(reinterpret_cast<const unsigned char*>(readable.data()), readable.size()));
    if (hello.status == tls::ClientHelloSni::Status::kComplete) {
      out = std::move(hello);
      break;
    }
    if (hello.status == tls::ClientHelloSni::Status::kNotTls) break;
    if (buffer.writableSize() == 0) break;  // cannot happen below kMaxClientHelloBytes
    auto [ec, n] =
        co_await transport.readSome(asio::buffer(buffer.writable().data(), buffer.writableSize()));
    if (ec) break;
    buffer.commit(n);
  }
  timer.disarm();
  co_return out;
}

// AuthorizationPolicy on a TCP listener, at connection start with what TCP has (Istio's network
// RBAC filter: the peer's identity and address, the destination, the SNI; the HTTP-only fields
// were handled by the compiler). A CUSTOM policy asks its gRPC authorizer. "" allows; otherwise
// the reason, "rbac_access_denied_matched_policy[ns/name]" as Envoy names it.
net::awaitable<std::string> authorizeConnection(Downstream& ds,
                                                common::LocalShared<const WorkerSnapshot> snapshot,
                                                const tr::Listener& listener,
                                                const asio::ip::tcp::endpoint& local,
                                                std::string_view sni) {
  const std::string local_ip = local.address().to_string();
  authz::AuthzRequest a;
  a.peer_principal = ds.peer_principal;
  a.source_ip = ds.remote_ip;
  a.remote_ip = ds.remote_ip;
  a.destination_ip = local_ip;
  a.destination_port = listener.workload_port ? listener.workload_port : ds.listener->gateway_port;
  a.sni = sni;
  const authz::AuthzDecision d = authz::authorize(listener.authz, a);
  reportDryRun(ds, d, {}, {}, true);
  if (d.custom) {
    if (!d.custom->ext_provider) {
      co_return "rbac_access_denied_matched_policy[" + d.custom->name +
          "] (its CUSTOM provider \"" + d.custom->provider +
          "\" is not a gRPC provider defined in the mesh config)";
    }
    ExtAuthzInput in;
    in.source_ip = ds.remote_ip;
    const size_t colon = ds.remote_endpoint.rfind(':');
    if (colon != std::string::npos) {
      const std::string_view port = std::string_view(ds.remote_endpoint).substr(colon + 1);
      std::from_chars(port.data(), port.data() + port.size(), in.source_port);
    }
    in.destination_ip = local_ip;
    in.destination_port = local.port();
    in.peer_principal = ds.peer_principal;
    in.own_principal = ds.own_principal;
    in.sni = sni;
    const tr::AuthzExtProvider& provider = *d.custom->ext_provider;
    const ExtAuthzResult r = co_await checkExternal(ds.worker, snapshot, provider, in);
    if (r.kind == ExtAuthzResult::Kind::kDeny) {
      co_return "ext_authz_denied by provider " + provider.name + " (AuthorizationPolicy " +
          d.custom->name + ")";
    }
    if (r.kind == ExtAuthzResult::Kind::kError && !provider.fail_open) {
      co_return "ext_authz_error: provider " + provider.name + " (AuthorizationPolicy " +
          d.custom->name + "): " + r.detail;
    }
  }
  if (d.allowed) co_return std::string();
  co_return "rbac_access_denied_matched_policy[" +
      (d.policy ? d.policy->name : std::string("none")) + "]";
}

}  // namespace

bool inSubnet(const asio::ip::address& address, std::string_view cidr) {
  const size_t slash = cidr.find('/');
  asio::error_code ec;
  const auto base = asio::ip::make_address(std::string(cidr.substr(0, slash)), ec);
  if (ec) return false;
  // An IPv4 client seen through a dual-stack socket is compared as IPv4.
  asio::ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  if (base.is_v4() != a.is_v4()) return false;
  const unsigned max_bits = base.is_v4() ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view b = cidr.substr(slash + 1);
    auto [p, err] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (err != std::errc() || p != b.data() + b.size() || bits > max_bits) return false;
  }
  if (base.is_v4()) {
    return asio::ip::network_v4(base.to_v4(), bits).canonical() ==
           asio::ip::network_v4(a.to_v4(), bits).canonical();
  }
  return asio::ip::network_v6(base.to_v6(), bits).canonical() ==
         asio::ip::network_v6(a.to_v6(), bits).canonical();
}

namespace {

bool isTlsRoute(const tr::TcpRoute& route) {
  // Translate keeps no tls match block without SNI hosts, and tcp blocks never have any.
  return !route.matches.empty() && !route.matches.front().sni_hosts.empty();
}

bool namesHost(const tr::TcpRoute& route, std::string_view host) {
  if (route.hosts.empty()) return true;
  for (const auto& h : route.hosts) {
    if (h == host || (h.starts_with("*.") && tr::sniMatches(h, host))) return true;
  }
  return false;
}

// A tunnel to a host name: the addresses the app would have dialled for it (the service's VIPs,
// else its endpoints), as Istio matches destinationSubnets against the original destination.
bool anyAddressIn(const std::vector<std::string>& addresses, std::string_view cidr) {
  for (const auto& text : addresses) {
    asio::error_code ec;
    const auto address = asio::ip::make_address(text, ec);
    if (!ec && inSubnet(address, cidr)) return true;
  }
  return false;
}

const tr::TcpRoute* firstMatch(const std::vector<tr::TcpRoute>& routes,
                               const std::optional<asio::ip::address>& destination,
                               const std::optional<std::string>& sni, const TcpTarget* target) {
  for (const auto& route : routes) {
    if (target && (!namesHost(route, target->host) || (!target->tls && isTlsRoute(route)))) {
      continue;
    }
    if (route.matches.empty()) return &route;
    for (const auto& m : route.matches) {
      bool ok = m.destination_subnets.empty();
      for (const auto& cidr : m.destination_subnets) {
        ok = ok || (destination ? inSubnet(*destination, cidr)
                                : target && anyAddressIn(route.host_addresses, cidr));
      }
      if (!ok) continue;
      if (!m.sni_hosts.empty()) {
        bool named = false;
        for (const auto& pattern : m.sni_hosts) {
          named = named || tr::sniMatches(pattern, sni.value_or(""));
        }
        if (!named) continue;
      }
      return &route;
    }
  }
  return nullptr;
}

}  // namespace

const tr::TcpRoute* matchTcpRoute(const std::vector<tr::TcpRoute>& routes,
                                  const asio::ip::address& destination,
                                  const std::optional<std::string>& sni) {
  return firstMatch(routes, destination, sni, nullptr);
}

const tr::TcpRoute* matchTcpRoute(const std::vector<tr::TcpRoute>& routes,
                                  const TcpTarget& target) {
  return firstMatch(routes, target.destination, target.sni, &target);
}

bool hasTcpRouteFor(const std::vector<tr::TcpRoute>& routes, std::string_view host, bool tls_only) {
  for (const auto& route : routes) {
    if (route.hosts.empty() || !namesHost(route, host)) continue;
    if (!tls_only || isTlsRoute(route)) return true;
  }
  return false;
}

namespace {

enum class TlsMode {
  kNone,      // opaque bytes
  kRequired,  // the connection starts with a ClientHello (TLS listener, or sniffed already)
  kSniff,     // TLS when the first bytes (if any come within the ClientHello timeout) are
};

struct TcpSetup {
  const tr::Listener* table = nullptr;  // whose tcp_routes (and authz) apply; null: none
  TlsMode tls = TlsMode::kNone;
  const TcpTarget* target = nullptr;  // tunnels: the CONNECT target; null: any route
  std::optional<asio::ip::address> destination;
  TcpProxyClient* client = nullptr;  // tunnels not answered yet
};

// Waits, within `timeout`, for the connection's first byte; true when it starts a TLS record.
// nullopt: the client ended the connection (or failed) before sending anything; silence until
// the timeout is not TLS (a protocol whose server speaks first).
net::awaitable<std::optional<bool>> startsWithTls(net::Transport& transport,
                                                  net::ByteBuffer& buffer, Millis timeout) {
  if (buffer.readableSize() == 0) {
    net::OpTimer timer(transport.executor());
    timer.arm(timeout, [&transport] { transport.cancel(); });
    if (buffer.writableSize() == 0) buffer.grow(buffer.capacity() + 4096);
    auto [ec, n] =
        co_await transport.readSome(asio::buffer(buffer.writable().data(), buffer.writableSize()));
    timer.disarm();
    if (ec && !timer.fired()) co_return std::nullopt;
    if (!ec) buffer.commit(n);
  }
  co_return startsWithTlsRecord(buffer);
}

// `in` holds what the client sent before (a tunnel's first bytes, or what sniffing read); it is
// the client's side of the splice.
net::awaitable<void> proxyTcp(Downstream& ds, net::ByteBuffer& in,
                              common::LocalShared<const WorkerSnapshot> snapshot,
                              RequestRecord& record, const TcpSetup& setup) {
  using telemetry::ResponseFlag;
  Worker& worker = ds.worker;
  const ListenerInfo* listener = ds.listener.get();
  WorkerTelemetry& telemetry = worker.telemetry();
  net::Transport& client = ds.transport;
  const Clock::time_point start = Clock::now();
  asio::error_code ec;
  const asio::ip::tcp::endpoint local = client.socket().local_endpoint(ec);
  const std::string& remote_text = ds.remote_endpoint;
  // Strings the record's views point at: they live as long as this frame.
  std::string upstream_text;
  std::string upstream_local_text;
  std::string details;
  std::string peer_principal;
  bool opened = false;
  TcpProxyClient* answer = setup.client;

  const ConnectionOptions& options = worker.options();
  // Bytes read before (a tunnel's, or what sniffing read) stay and go first; the buffer is
  // reused from where they start.
  const size_t mark = in.begin();
  std::optional<std::string> sni;
  const tr::Listener* table = setup.table;

  auto finish = [&](std::optional<ResponseFlag> flag, std::string why) {
    if (flag) record.log.response_flags.set(*flag);
    details = std::move(why);
    record.log.connection_termination_details = details;
    HLOG_DEBUG("tcp connection from {} on {} closed: {}", remote_text, listener->name, details);
    record.log.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    telemetry.tcpDone(record, opened);
  };
  // A failure before the bytes flow: a tunnel not answered yet hears the reason.
  auto fail = [&](ResponseFlag flag, std::string why) -> net::awaitable<void> {
    record.log.bytes_received = in.readableSize();
    if (answer) co_await answer->failed(flag, why);
    finish(flag, std::move(why));
  };

  bool tls = setup.tls == TlsMode::kRequired;
  if (setup.tls == TlsMode::kSniff) {
    // Silence is not TLS after the ClientHello timeout, or sooner after MeshConfig
    // protocolDetectionTimeout (the outbound listener carries it).
    Millis wait = options.client_hello_timeout;
    if (const ListenerRoutes* own = snapshot ? snapshot->listener(listener->name) : nullptr) {
      const Millis detection = own->listener->protocol_detection_timeout;
      if (detection.count() > 0) wait = std::min(wait, detection);
    }
    const std::optional<bool> sniffed = co_await startsWithTls(client, in, wait);
    if (!sniffed) {
      record.log.bytes_received = 0;
      finish(ResponseFlag::kDownstreamConnectionTermination,
             "the client closed the tunnel before sending anything");
      co_return;
    }
    tls = *sniffed;
  }
  if (tls) {
    if (in.capacity() - in.begin() < tls::kMaxClientHelloBytes) {
      in.grow(in.begin() + tls::kMaxClientHelloBytes);
    }
    auto hello = co_await readClientHello(client, in, options.client_hello_timeout);
    if (!hello) {
      co_await fail(ResponseFlag::kNoRouteFound,
                    "no TLS ClientHello within the size and time limits");
      co_return;
    }
    sni = std::move(hello->sni);
    if (sni) record.log.requested_server_name = *sni;
  }
  if (table && !table->authz.empty()) {
    const std::string denied =
        co_await authorizeConnection(ds, snapshot, *table, local, sni.value_or(""));
    if (!denied.empty()) {
      telemetry.rbacDenied(listener->name, true);
      record.log.bytes_received = in.readableSize();
      record.log.response_code_details = denied;
      HLOG_INFO("tcp connection from {} on {} denied: {}", remote_text, listener->name, denied);
      finish(denied.starts_with("ext_authz")
                 ? std::optional(ResponseFlag::kUnauthorizedExternalService)
                 : std::nullopt,
             denied);
      co_return;
    }
  }
  const tr::TcpRoute* route = nullptr;
  if (table && setup.target) {
    TcpTarget target = *setup.target;
    target.tls = tls;
    target.sni = sni;
    route = matchTcpRoute(table->tcp_routes, target);
  } else if (table) {
    route = firstMatch(table->tcp_routes, setup.destination, sni, nullptr);
  }
  if (!route) {
    std::string why = sni ? "no tcp/tls route matches server name " + *sni
                          : std::string("no tcp/tls route matches");
    if (setup.target) why += " for " + std::string(setup.target->host);
    co_await fail(ResponseFlag::kNoRouteFound, std::move(why));
    co_return;
  }
  record.log.route_name = route->origin;
  // One destination by weight.
  uint64_t r = worker.random().below(route->total_weight);
  const tr::WeightedCluster* chosen = &route->clusters.back();
  for (const auto& c : route->clusters) {
    if (r < c.weight) {
      chosen = &c;
      break;
    }
    r -= c.weight;
  }
  record.log.upstream_cluster = chosen->cluster;
  upstream::ClusterHosts* hosts = snapshot->cluster(chosen->cluster);
  if (!hosts) {
    co_await fail(ResponseFlag::kNoClusterFound, "route " + route->origin + " names cluster " +
                                                     chosen->cluster + ", which is unknown");
    co_return;
  }
  record.cluster = &hosts->cluster();
  co_await hosts->ensureResolved();
  upstream::UpstreamHost* host = upstream::pickHost(*hosts, worker.random(), {});
  if (!host) {
    co_await fail(ResponseFlag::kNoHealthyUpstream,
                  "no healthy upstream host in cluster " + chosen->cluster);
    co_return;
  }
  // A spliced connection is an active request for least-request balancing while it lasts.
  ++host->active_requests;
  struct Release {
    upstream::UpstreamHost* host;
    ~Release() { --host->active_requests; }
  } release{host};
  upstream_text = host->name;
  record.log.upstream_host = upstream_text;
  record.endpoint = hosts->endpoint(*host);
  const auto transport = hosts->transportFor(record.endpoint, sni.value_or(""));
  if (!transport) {
    co_await fail(
        ResponseFlag::kUpstreamConnectionFailure,
        "no TLS context for cluster " + chosen->cluster + ": " + std::string(transport.error()));
    co_return;
  }
  const tr::Cluster& cluster = hosts->cluster();
  auto connected = co_await worker.pool().connect(*host, cluster.connect_timeout, *transport);
  telemetry.upstreamConnect(cluster, connected.ok());
  if (transport->tls &&
      (connected.ok() || connected.error().kind == common::ErrorKind::kProtocol)) {
    telemetry.upstreamTlsHandshake(cluster, connected.ok());
  }
  if (!connected) {
    co_await fail(
        ResponseFlag::kUpstreamConnectionFailure,
        "connect to " + upstream_text + " (" + chosen->cluster + "): " + connected.error().message);
    co_return;
  }
  std::unique_ptr<upstream::UpstreamConnection> upstream = std::move(*connected);
  peer_principal = upstream->peerPrincipal();
  record.upstream_principal = peer_principal;
  record.log.upstream_peer_uri_san = peer_principal;
  const asio::ip::tcp::endpoint upstream_local = upstream->socket().local_endpoint(ec);
  if (!ec) {
    upstream_local_text =
        upstream_local.address().to_string() + ":" + std::to_string(upstream_local.port());
    record.log.upstream_local_address = upstream_local_text;
  }
  if (answer && !co_await answer->connected()) {
    net::closeQuietly(upstream->socket());
    record.log.bytes_received = in.readableSize();
    finish(ResponseFlag::kDownstreamConnectionTermination,
           "the client went away before the tunnel was established");
    co_return;
  }
  telemetry.tcpOpened(record);
  opened = true;
  upstream->buffer().rewindTo(0);
  const SpliceBytes bytes = co_await splice(client, in, mark, upstream->transport(),
                                            upstream->buffer(), options.tcp_idle_timeout);
  net::closeQuietly(upstream->socket());
  record.log.bytes_received = bytes.from_client;
  record.log.bytes_sent = bytes.to_client;
  finish(std::nullopt, "");
}

}  // namespace

void fillPeerWorkload(const tr::Listener& listener, telemetry::PeerIdentity& peer) {
  if (!listener.peer_workloads || peer.namespace_.empty()) return;
  const tr::PeerWorkload* w =
      tr::findPeerWorkload(*listener.peer_workloads, peer.namespace_, peer.service_account);
  if (!w) return;  // several workloads, or none, use that identity: "unknown", as Istio says
  peer.workload = w->workload;
  peer.app = w->app;
  peer.version = w->version;
  peer.revision = w->revision;
  peer.canonical_service = w->canonical_service;
}

bool startsWithTlsRecord(const net::ByteBuffer& buffer) {
  const std::string_view bytes = buffer.readableView();
  return !bytes.empty() && static_cast<unsigned char>(bytes.front()) == 0x16;
}

bool startsLikeHttp(const net::ByteBuffer& buffer) {
  const std::string_view bytes = buffer.readableView();
  return !bytes.empty() && bytes.front() >= 'A' && bytes.front() <= 'Z';
}

net::awaitable<bool> clientStaysSilent(Downstream& ds, Millis timeout) {
  if (timeout.count() <= 0 || ds.in.readableSize() > 0) co_return false;
  if (ds.in.writableSize() == 0) ds.in.grow(ds.in.capacity() + 4096);
  const IoResult r = co_await readSome(ds.transport, ds.in, ds.read_timer, Clock::now() + timeout);
  co_return r.timed_out&& ds.in.readableSize() == 0;
}

bool detectsSilentClients(const Downstream& ds) {
  const WorkerSnapshot* snapshot = ds.worker.snapshot().get();
  return snapshot && snapshot->detectsSilentClients();
}

net::awaitable<bool> silentOnSniffedPort(Downstream& ds) {
  if (ds.listener->kind != tr::ListenerKind::kInbound || ds.in.readableSize() > 0 ||
      ds.transport.alpn() == "h2" || !detectsSilentClients(ds)) {
    co_return false;
  }
  Millis timeout{0};
  {
    // Not held across the wait: a push meanwhile serves the connection with the new snapshot.
    const common::LocalShared<const WorkerSnapshot> snapshot = ds.worker.snapshot();
    const ListenerRoutes* routes = snapshot ? snapshot->listener(ds.listener->name) : nullptr;
    if (!routes || routes->listener->tcp_routes.empty()) co_return false;
    timeout = routes->listener->protocol_detection_timeout;
  }
  // The client already stayed silent that long before the TLS sniff (silentBeforeTlsSniff): its
  // silence is known, and a second wait would only double the delay of a server-first protocol.
  if (ds.stayed_silent) co_return timeout.count() > 0;
  co_return co_await clientStaysSilent(ds, timeout);
}

net::awaitable<bool> silentBeforeTlsSniff(Downstream& ds) {
  if (!detectsSilentClients(ds)) co_return false;
  Millis timeout{0};
  {
    const common::LocalShared<const WorkerSnapshot> snapshot = ds.worker.snapshot();
    const ListenerRoutes* routes = snapshot ? snapshot->listener(ds.listener->name) : nullptr;
    if (!routes) co_return false;
    timeout = routes->listener->protocol_detection_timeout;
  }
  if (timeout.count() <= 0) co_return false;
  // Readiness only: the bytes stay in the socket for the peek and the handshake.
  asio::ip::tcp::socket& socket = ds.socket();
  ds.read_timer.armAt(Clock::now() + timeout, [&socket] { cancelSocket(socket); });
  auto [ec] = co_await socket.async_wait(asio::socket_base::wait_read, net::kAwait);
  ds.read_timer.disarm();
  ds.stayed_silent = ec && ds.read_timer.fired() && !ds.worker.draining();
  co_return ds.stayed_silent;
}

bool sniffedTcp(const Downstream& ds) {
  if (ds.listener->kind != tr::ListenerKind::kInbound || ds.in.readableSize() == 0 ||
      startsLikeHttp(ds.in)) {
    return false;
  }
  const common::LocalShared<const WorkerSnapshot> snapshot = ds.worker.snapshot();
  const ListenerRoutes* routes = snapshot ? snapshot->listener(ds.listener->name) : nullptr;
  return routes && !routes->listener->tcp_routes.empty();
}

net::awaitable<void> runTcpProxy(Downstream& ds) {
  const ListenerInfo* listener = ds.listener.get();
  RequestRecord record;
  record.listener = listener->name;
  record.listener_kind = listener->kind;
  record.log.start_time = std::chrono::system_clock::now();
  record.log.downstream_local_address = ds.local_endpoint;
  record.log.downstream_remote_address = ds.remote_endpoint;
  // A gateway TLS server that terminates: the SNI its handshake named.
  if (listener->tls) record.log.requested_server_name = ds.sni();
  // The inbound listener's caller, as its certificate names it (plaintext: unknown).
  record.mutual_tls = ds.mutual_tls();
  if (record.mutual_tls) {
    std::string_view trust_domain;
    if (!telemetry::parseSpiffeId(ds.peer_principal, trust_domain, record.peer.namespace_,
                                  record.peer.service_account)) {
      record.peer.namespace_ = {};
      record.peer.service_account = {};
    }
    record.has_peer = true;
    record.peer_principal = ds.peer_principal;
    record.own_principal = ds.own_principal;
    record.log.downstream_peer_uri_san = ds.peer_principal;
  }
  // The connection keeps the snapshot it arrived with, as HTTP requests do.
  common::LocalShared<const WorkerSnapshot> snapshot = ds.worker.snapshot();
  const ListenerRoutes* routes = snapshot ? snapshot->listener(listener->name) : nullptr;
  // The Telemetry API's metrics overrides and access-log settings (the snapshot outlives them).
  if (routes) record.telemetry = routes->listener->telemetry.get();
  if (routes && record.has_peer) fillPeerWorkload(*routes->listener, record.peer);
  TcpSetup setup;
  if (routes) {
    setup.table = routes->listener;
    // A TLS passthrough listener routes by SNI; an HTTP listener's tcp routes serve what it
    // sniffed as not HTTP (the caller has read those first bytes), a ClientHello read for its SNI.
    const std::string& protocol = routes->listener->protocol;
    setup.tls = protocol == "TLS" || (protocol != "TCP" && startsWithTlsRecord(ds.in))
                    ? TlsMode::kRequired
                    : TlsMode::kNone;
  }
  asio::error_code ec;
  const asio::ip::tcp::endpoint local = ds.transport.socket().local_endpoint(ec);
  if (!ec) setup.destination = local.address();
  if (ds.in.readableSize() == 0) ds.in.rewindTo(0);
  co_await proxyTcp(ds, ds.in, std::move(snapshot), record, setup);
}

net::awaitable<void> runTcpTunnel(Downstream& ds,
                                  common::LocalShared<const WorkerSnapshot> snapshot,
                                  RequestRecord& record, const TcpTunnel& tunnel,
                                  TcpProxyClient* client) {
  TcpTarget target;
  target.host = tunnel.host;
  asio::error_code ec;
  const auto address = asio::ip::make_address(std::string(tunnel.host), ec);
  if (!ec) target.destination = address;
  TcpSetup setup;
  setup.table = tunnel.table;
  setup.target = &target;
  setup.destination = target.destination;
  setup.client = client;
  switch (tunnel.tls) {
    case TcpTunnel::Tls::kNone:
      setup.tls = TlsMode::kNone;
      break;
    case TcpTunnel::Tls::kSniff:
      setup.tls = TlsMode::kSniff;
      break;
    case TcpTunnel::Tls::kTls:
      setup.tls = TlsMode::kRequired;
      break;
  }
  // Its own buffer: the CONNECT's head stays where the access log entry's views point, and a
  // ClientHello may need more room than the head's buffer has.
  const size_t first = ds.in.readableSize();
  net::ByteBuffer in(std::max(
      first, tunnel.tls == TcpTunnel::Tls::kNone ? size_t{16 * 1024} : tls::kMaxClientHelloBytes));
  std::copy_n(ds.in.readable().data(), first, in.writable().data());
  in.commit(first);
  ds.in.consume(first);
  co_await proxyTcp(ds, in, std::move(snapshot), record, setup);
}

}  // namespace halyard::proxy::runtime
