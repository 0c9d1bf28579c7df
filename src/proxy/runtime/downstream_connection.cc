#include "proxy/runtime/downstream_connection.h"

#include <sys/socket.h>

#include <optional>
#include <variant>

#include "common/log.h"
#include "proxy/http/h1_syntax.h"
#include "proxy/http/path_normalizer.h"
#include "proxy/net/socket_util.h"
#include "proxy/runtime/ext_authz_client.h"
#include "proxy/runtime/h2_connection.h"
#include "proxy/runtime/request_phases.h"
#include "proxy/runtime/responder.h"
#include "proxy/runtime/tcp_proxy.h"
#include "proxy/runtime/upstream_request.h"
#include "proxy/runtime/worker.h"
#include "proxy/tls/certificate_checks.h"

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;
using telemetry::ResponseFlag;

DownstreamConnection::DownstreamConnection(Worker& worker, asio::ip::tcp::socket socket,
                                           std::shared_ptr<const ListenerInfo> listener)
    : ds_(worker, std::move(socket), std::move(listener)) {
  net::setNoDelay(ds_.socket());
  worker.track(this);
  worker.telemetry().connectionOpened(ds_.listener->name);
}

DownstreamConnection::DownstreamConnection(
    Worker& worker, common::LocalShared<net::MemoryPipe> pipe,
    std::shared_ptr<const ListenerInfo> listener, const Downstream& connection,
    common::LocalShared<http::H2ResponseEncoder> encoder, http::H2RequestHead&& head,
    const http::BodyFraming& framing, common::LocalShared<const http::Fields> trailers)
    : ds_(worker, asio::ip::tcp::socket(pipe->executor()), std::move(listener),
          net::ByteBuffer::kStreamSize),
      stream_(true) {
  startStream(std::move(pipe), std::move(encoder), std::move(head), framing, std::move(trailers));
  ds_.remote_ip = connection.remote_ip;
  ds_.remote_endpoint = connection.remote_endpoint;
  ds_.local_endpoint = connection.local_endpoint;
  ds_.peer_principal = connection.peer_principal;
  ds_.peer_certificate_hash = connection.peer_certificate_hash;
  ds_.own_principal = connection.own_principal;
  ds_.forwarded_client_cert = connection.forwarded_client_cert;
  ds_.stream_sni = std::string(connection.sni());
  ds_.stream_protocol = "HTTP/2";
  if (connection.stream_tunnel_port != 0) tunnel_port_ = connection.stream_tunnel_port;
}

void DownstreamConnection::startStream(common::LocalShared<net::MemoryPipe> pipe,
                                       common::LocalShared<http::H2ResponseEncoder> encoder,
                                       http::H2RequestHead&& head, const http::BodyFraming& framing,
                                       common::LocalShared<const http::Fields> trailers) {
  stream_encoder_ = std::move(encoder);
  ds_.response_encoder = stream_encoder_.get();
  ds_.request_trailers = std::move(trailers);
  http::prepareStreamRequest(stream_request_, std::move(head));
  stream_request_.head.framing = framing;
  ds_.transport.usePipe(std::move(pipe));
  ds_.in.rewindTo(0);
}

void DownstreamConnection::releaseStream() {
  // A deadline the stream left armed (its coroutine ended without disarming it) must not fire
  // into the next stream. (A pending wait would hold the stream's coroutine, hence this object.)
  ds_.read_timer.disarm();
  ds_.write_timer.disarm();
  upstream_.reset();
  // What would keep config or a token alive while the object waits (serve() resets the rest).
  rq_.snapshot.reset();
  if (rq_.authn_ran) rq_.jwt.reset();
  stream_encoder_.reset();
  ds_.response_encoder = &ds_.encoder;
  ds_.request_trailers.reset();
  ds_.transport.usePipe(nullptr);
  // A body that grew the buffer (growAfterFullRead) does not leave it large for the next stream.
  if (ds_.in.capacity() > net::ByteBuffer::kStreamSize)
    ds_.in = net::ByteBuffer(net::ByteBuffer::kStreamSize);
}

DownstreamConnection::~DownstreamConnection() {
  if (stream_) return;  // a stream: the HTTP/2 connection is what is counted
  ds_.worker.telemetry().connectionClosed(ds_.listener->name);
  ds_.worker.untrack(this);
}

void DownstreamConnection::onDrain() {
  // HTTP/2: the driver wakes, sends GOAWAY and closes once its streams are done.
  if (waiting_ || http2_) cancelSocket(ds_.transport);
}

net::awaitable<void> DownstreamConnection::runStream(
    common::LocalShared<DownstreamConnection> self) {
  DownstreamConnection* c = self.get();
  // serve() itself, holding the connection: one coroutine frame fewer per stream than run().
  if (!c->stream_request_.head.authority.empty()) return c->serve(std::move(self));
  return run(std::move(self));
}

net::awaitable<void> DownstreamConnection::run(common::LocalShared<DownstreamConnection> self) {
  DownstreamConnection& c = *self;
  if (c.stream_encoder_) {
    // A stream of an HTTP/2 connection without an authority: as HTTP/1.1 requires a Host,
    // routing has nothing to go by.
    co_await c.rejectHead(400, "malformed request: missing :authority and host",
                          ResponseFlag::kDownstreamProtocolError, "http2.missing_authority");
    c.ds_.transport.close();
    co_return;
  }
  {
    if (!co_await c.setUpTransport()) {
      c.ds_.transport.close();
      co_return;
    }
    if (c.ds_.listener->tcp) {
      // TCP and TLS passthrough: after the inbound listener's mutual TLS, if any, no HTTP.
      co_await runTcpProxy(c.ds_);
      c.ds_.transport.close();
      co_return;
    }
    if (detectsSilentClients(c.ds_) && co_await silentOnSniffedPort(c.ds_)) {
      // An app port of undeclared protocol whose client sent nothing within MeshConfig
      // protocolDetectionTimeout: a server-first protocol, proxied as TCP.
      co_await runTcpProxy(c.ds_);
      c.ds_.transport.close();
      co_return;
    }
    // HTTP/2: chosen by ALPN on TLS, or by its connection preface (prior knowledge).
    std::optional<bool> http2 = true;
    if (c.ds_.transport.alpn() != "h2") http2 = co_await c.startsWithH2Preface();
    if (!http2 || *http2) {
      if (http2) {
        c.http2_ = true;
        co_await serveHttp2(c.ds_);
      }
      c.ds_.transport.close();
      co_return;
    }
    if (sniffedTcp(c.ds_)) {
      // TLS or other bytes that are not HTTP (after the mesh's mutual TLS, if any) to an app
      // port of undeclared protocol: as TCP.
      co_await runTcpProxy(c.ds_);
      c.ds_.transport.close();
      co_return;
    }
  }
  while (true) {
    if (c.tunnel_port_ && !c.stream_encoder_ && !c.tunnel_checked_) {
      // The first bytes inside a CONNECT tunnel to a mesh service: HTTP/2 (a gRPC client
      // honouring http_proxy) is served as on any connection, with the tunnel's port.
      c.tunnel_checked_ = true;
      if (co_await tunnelStaysSilent(c.ds_, *c.tunnel_port_, c.connect_log_)) {
        co_await serveTcpInTunnel(c.ds_, *c.tunnel_port_, c.connect_log_);  // server-first
        break;
      }
      const std::optional<bool> http2 = co_await c.startsWithH2Preface();
      if (!http2) break;
      if (*http2) {
        c.ds_.stream_tunnel_port = *c.tunnel_port_;
        c.http2_ = true;
        co_await serveHttp2(c.ds_);
        break;
      }
      if (tunnelCarriesTcp(c.ds_, *c.tunnel_port_, c.connect_log_)) {
        co_await serveTcpInTunnel(c.ds_, *c.tunnel_port_, c.connect_log_);
        break;
      }
    }
    const HeadStatus status = co_await c.readHead();
    if (status == HeadStatus::kClosed) break;
    if (status == HeadStatus::kTimeout) {
      const std::string reason =
          "request headers not received within " +
          std::to_string(c.ds_.worker.options().request_headers_timeout.count()) + " ms";
      co_await c.rejectHead(408, reason, ResponseFlag::kStreamIdleTimeout,
                            "request_header_timeout");
      break;
    }
    if (status == HeadStatus::kError) {
      const http::ParseError& e = c.ds_.parser.error();
      co_await c.rejectHead(e.status, "malformed request: " + std::string(e.reason),
                            ResponseFlag::kDownstreamProtocolError, "http1.codec_error");
      break;
    }
    if (std::string settings; c.wantsH2cUpgrade(settings)) {
      co_await c.upgradeToH2c(std::move(settings));
      break;
    }
    co_await c.serve();
    if (c.rq_.close || c.ds_.worker.draining()) break;
    c.ds_.in.compact();  // pipelined bytes of the next request move to the front
    c.first_request_ = false;
  }
  c.ds_.transport.close();
}

net::awaitable<bool> DownstreamConnection::setUpTransport() {
  const bool inbound = ds_.listener->kind == tr::ListenerKind::kInbound;
  if (!ds_.listener->tls && !inbound) co_return true;
  // Held through the handshake: the ClientHello callback uses the listener's TLS contexts.
  const common::LocalShared<const WorkerSnapshot> snapshot = ds_.worker.snapshot();
  const ListenerRoutes* routes = snapshot ? snapshot->listener(ds_.listener->name) : nullptr;
  if (inbound) {
    // PeerAuthentication as the snapshot says when the connection arrives: a change applies to
    // new connections, open ones keep what they negotiated.
    const tr::PeerAuthMode mode =
        routes ? routes->listener->mtls.mode : tr::PeerAuthMode::kPermissive;
    if (mode == tr::PeerAuthMode::kDisable) co_return true;
    // MeshConfig protocolDetectionTimeout: a client silent that long speaks no TLS (a
    // server-first protocol); PERMISSIVE takes it as plaintext.
    if (mode == tr::PeerAuthMode::kPermissive && detectsSilentClients(ds_) &&
        co_await silentBeforeTlsSniff(ds_)) {
      co_return true;
    }
    const std::optional<bool> tls = co_await startsWithTls();
    if (!tls) co_return false;
    if (!*tls) {
      if (mode == tr::PeerAuthMode::kPermissive) co_return true;
      // STRICT: Envoy finds no filter chain for plaintext and closes; so do we, and count it.
      ds_.worker.telemetry().plaintextRefused(ds_.listener->name);
      HLOG_DEBUG("plaintext connection from {} refused: {} requires mutual TLS ({})",
                 ds_.remote_endpoint, ds_.listener->name, routes->listener->mtls.origin);
      co_return false;
    }
  }
  SSL* ssl = routes && routes->tls ? routes->tls->newSession() : nullptr;
  if (!ssl) {
    ds_.worker.telemetry().tlsHandshake(ds_.listener->name, false);
    co_return false;
  }
  ds_.transport.startTls(ssl);
  waiting_ = true;  // nothing of a request yet: a drain may close it
  net::Transport& transport = ds_.transport;
  ds_.read_timer.armAt(Clock::now() + ds_.worker.options().request_headers_timeout,
                       [&transport] { transport.cancel(); });
  auto [ec] = co_await transport.handshake(asio::ssl::stream_base::server);
  ds_.read_timer.disarm();
  waiting_ = false;
  ds_.worker.telemetry().tlsHandshake(ds_.listener->name, !ec);
  if (ec) {
    HLOG_DEBUG("tls handshake from {} on {} failed: {}", ds_.remote_endpoint, ds_.listener->name,
               transport.describeTlsError(ec));
    co_return false;
  }
  if (inbound) {
    // Verified against the mesh roots by now: the certificate is the peer's identity.
    X509* peer = SSL_get0_peer_certificate(transport.ssl());
    ds_.peer_principal = tls::firstUriSan(peer);
    ds_.peer_certificate_hash = tls::certificateSha256(peer);
    ds_.own_principal = snapshot->tls().spiffeId();
    if (ds_.peer_principal.empty()) {
      HLOG_DEBUG("mutual TLS from {} on {} refused: the client certificate has no SPIFFE ID",
                 ds_.remote_endpoint, ds_.listener->name);
      co_return false;
    }
    ds_.forwarded_client_cert = "By=" + ds_.own_principal + ";Hash=" + ds_.peer_certificate_hash +
                                ";Subject=\"\";URI=" + ds_.peer_principal;
  } else if (X509* peer = SSL_get0_peer_certificate(transport.ssl())) {
    // A gateway server that verified a client certificate (ISTIO_MUTUAL, MUTUAL): its SPIFFE ID
    // is the connection's principal for AuthorizationPolicy, as Envoy takes the peer's URI SAN.
    ds_.peer_principal = tls::firstUriSan(peer);
    ds_.own_principal = snapshot->tls().spiffeId();
  }
  co_return !ds_.worker.draining();
}

net::awaitable<std::optional<bool>> DownstreamConnection::startsWithTls() {
  // A TLS connection opens with a handshake record (content type 22); an HTTP request with a
  // method's letter. One byte, peeked, tells them apart without taking it from the stream.
  waiting_ = true;
  asio::ip::tcp::socket& socket = ds_.socket();
  ds_.read_timer.armAt(Clock::now() + ds_.worker.options().request_headers_timeout,
                       [&socket] { cancelSocket(socket); });
  auto [ec] = co_await socket.async_wait(asio::socket_base::wait_read, net::kAwait);
  ds_.read_timer.disarm();
  waiting_ = false;
  if (ec || ds_.worker.draining()) co_return std::nullopt;
  unsigned char first = 0;
  const ssize_t n = ::recv(socket.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n != 1) co_return std::nullopt;
  co_return first == 0x16;
}

net::awaitable<std::optional<bool>> DownstreamConnection::startsWithH2Preface() {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n";
  Downstream& ds = ds_;
  const Clock::time_point deadline = Clock::now() + ds.worker.options().request_headers_timeout;
  while (true) {
    const std::string_view got = ds.in.readableView();
    const size_t n = std::min(got.size(), kPreface.size());
    if (got.substr(0, n) != kPreface.substr(0, n)) co_return false;
    if (n == kPreface.size()) co_return true;
    // Undecided: "P" or "PR" may still be "POST" or a PRI method; read on.
    waiting_ = got.empty();
    if (waiting_ && ds.worker.draining()) co_return std::nullopt;
    const IoResult r = co_await readSome(ds.transport, ds.in, ds.read_timer, deadline);
    waiting_ = false;
    // Ended, timed out or drained before a request: closed without an answer. (A TLS stream is
    // not read again after its end.)
    if (!r.ok()) co_return std::nullopt;
  }
}

net::awaitable<DownstreamConnection::HeadStatus> DownstreamConnection::readHead() {
  Downstream& ds = ds_;
  const ConnectionOptions& options = ds.worker.options();
  ds.parser.reset();
  // The request-header timeout runs from the first byte of the request (from the accept for the
  // first one); before that, a keep-alive connection may stay idle for the idle timeout.
  Clock::time_point header_deadline = Clock::time_point::max();
  if (first_request_ || ds.in.end() > 0)
    header_deadline = Clock::now() + options.request_headers_timeout;
  const size_t max_head =
      options.request_limits.max_request_line_bytes + options.request_limits.max_header_bytes + 4;
  while (true) {
    if (ds.in.end() > 0) {
      const http::ParseStatus st = ds.parser.feed(ds.in.fromStart());
      if (st == http::ParseStatus::kError) co_return HeadStatus::kError;
      if (st == http::ParseStatus::kHeadComplete) {
        const http::RequestHead& head = ds.parser.head();
        if (head.framing.kind != http::BodyKind::kNone &&
            ds.in.capacity() - head.head_bytes < Downstream::kMinBodyWindow) {
          // Too little room left to stream the body: grow and parse the (unchanged) head again,
          // since growing moves the bytes the head's views point into.
          ds.in.grow(head.head_bytes + Downstream::kInitialBuffer);
          ds.parser.reset();
          if (ds.parser.feed(ds.in.fromStart()) != http::ParseStatus::kHeadComplete) {
            co_return HeadStatus::kError;
          }
        }
        co_return HeadStatus::kComplete;
      }
    }
    if (ds.in.writableSize() == 0) ds.in.grow(std::min(ds.in.capacity() * 2, max_head + 1));
    const bool nothing_yet = ds.in.end() == 0;
    waiting_ = nothing_yet;
    if (waiting_ && ds.worker.draining()) co_return HeadStatus::kClosed;
    const Clock::time_point deadline =
        header_deadline != Clock::time_point::max() ? header_deadline : ds.idleDeadline();
    const IoResult r = co_await readSome(ds.transport, ds.in, ds.read_timer, deadline);
    waiting_ = false;
    if (r.timed_out) co_return nothing_yet ? HeadStatus::kClosed : HeadStatus::kTimeout;
    if (!r.ok()) co_return HeadStatus::kClosed;
    if (header_deadline == Clock::time_point::max()) {
      header_deadline = Clock::now() + options.request_headers_timeout;
    }
  }
}

namespace {

// RFC 4648 §5 (base64url), padding optional, as HTTP2-Settings carries it. False on anything
// else.
bool decodeBase64Url(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v = -1;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    if (ch == '-') v = 62;
    if (ch == '_') v = 63;
    if (ch == '=') break;
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

}  // namespace

bool DownstreamConnection::wantsH2cUpgrade(std::string& settings) {
  const http::RequestHead& head = ds_.parser.head();
  if (!head.upgrade || !http::syntax::equalsIgnoreCase(head.upgrade_protocol, "h2c")) return false;
  // h2c is HTTP/2 over plaintext only; a request with a body stays HTTP/1.1 (the client may
  // not know whether it was read before the switch), as does one in a CONNECT tunnel.
  if (ds_.transport.secure() || tunnel_port_) return false;
  if (head.framing.kind != http::BodyKind::kNone &&
      !(head.framing.kind == http::BodyKind::kContentLength && head.framing.content_length == 0)) {
    return false;
  }
  const http::RequestView view = http::toRequestView(head, "http", 0);
  const auto value = view.header("http2-settings");
  return value && decodeBase64Url(*value, settings) && settings.size() % 6 == 0;
}

net::awaitable<void> DownstreamConnection::upgradeToH2c(std::string settings) {
  const http::RequestHead& head = ds_.parser.head();
  H2cUpgrade upgrade;
  upgrade.settings = std::move(settings);
  http::H2RequestHead& h = upgrade.head;
  h.method = head.method;
  h.scheme = "http";
  h.authority = head.authority;
  h.path = head.path;
  for (const auto& f : head.headers) {
    // The upgrade's own fields and what HTTP/2 forbids stay behind.
    if (f.name == "host" || f.name == "http2-settings" || f.name == "content-length" ||
        http::isConnectionSpecific(f.name) || f.name == "te") {
      continue;
    }
    h.headers.emplace_back(f.name, f.value);
  }
  static constexpr std::string_view kSwitching =
      "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n";
  const IoResult w = co_await writeAll(ds_.transport, asio::buffer(kSwitching), ds_.write_timer,
                                       ds_.idleDeadline());
  if (!w.ok()) co_return;
  // What followed the request (the client preface, perhaps) is HTTP/2's.
  ds_.in.consume(head.head_bytes);
  ds_.in.compact();
  http2_ = true;
  co_await serveHttp2(ds_, &upgrade);
}

net::awaitable<void> DownstreamConnection::rejectHead(uint16_t status, std::string_view reason,
                                                      ResponseFlag flag, std::string_view details) {
  rq_.reset();
  rq_.start = Clock::now();
  rq_.record.log.start_time = std::chrono::system_clock::now();
  rq_.record.log.bytes_received = ds_.in.end();
  rq_.close = true;
  rq_.reason.assign(reason);
  co_await sendFailure(ds_, rq_, RequestFailure{status, flag, details});
  reportRequest();
}

void DownstreamConnection::readPeer() {
  RequestRecord& record = rq_.record;
  record.mutual_tls = ds_.mutual_tls();
  if (!record.mutual_tls) return;  // plaintext: no identity, and no metadata is believed
  std::string_view trust_domain;
  if (!telemetry::parseSpiffeId(ds_.peer_principal, trust_domain, record.peer.namespace_,
                                record.peer.service_account)) {
    record.peer.namespace_ = {};
    record.peer.service_account = {};
  }
  telemetry::PeerIdentity metadata;
  if (const auto value = rq_.view.header(telemetry::kPeerHeader);
      value && telemetry::parsePeerIdentity(*value, metadata)) {
    record.peer.workload = metadata.workload;
    record.peer.app = metadata.app;
    record.peer.version = metadata.version;
    record.peer.revision = metadata.revision;
    record.peer.canonical_service = metadata.canonical_service;
  }
  record.has_peer = true;
  record.peer_principal = ds_.peer_principal;
  record.own_principal = ds_.own_principal;
  record.log.downstream_peer_uri_san = ds_.peer_principal;
}

const ListenerRoutes* DownstreamConnection::listenerRoutes() {
  const WorkerSnapshot* snapshot = rq_.snapshot.get();
  if (!snapshot) return nullptr;
  if (ds_.listener->kind == tr::ListenerKind::kOutboundProxy) {
    // Per request: the destination port's route table, from the authority the app asked for.
    const uint16_t port =
        tunnel_port_ ? *tunnel_port_ : router::authorityPort(rq_.view.authority, 80);
    rq_.view.listener_port = port;
    return snapshot->outboundPort(port);
  }
  return ownRoutes();
}

const ListenerRoutes* DownstreamConnection::ownRoutes() {
  const WorkerSnapshot* snapshot = rq_.snapshot.get();
  if (!snapshot) return nullptr;
  if (snapshot->generation() != routes_generation_) {
    routes_generation_ = snapshot->generation();
    routes_ = snapshot->listener(ds_.listener->name);
  }
  return routes_;
}

http::PathNormalization DownstreamConnection::pathNormalization() {
  static_assert(static_cast<int>(tr::PathNormalization::kDecodeAndMergeSlashes) ==
                static_cast<int>(http::PathNormalization::kDecodeAndMergeSlashes));
  const ListenerRoutes* own = ownRoutes();
  return own ? static_cast<http::PathNormalization>(own->listener->path_normalization)
             : http::PathNormalization::kBase;
}

// The span of this hop, when the listener the request came in by traces (Listener::tracing), and
// that listener's Telemetry settings for the report.
void DownstreamConnection::startTrace(RequestState& rq) {
  const ListenerRoutes* own = ownRoutes();  // cached per snapshot, not looked up per request
  if (own) rq.record.telemetry = own->listener->telemetry.get();  // Telemetry metrics/logging
  if (!own || !own->listener->tracing) return;
  rq.trace.begin(
      own->listener->tracing, rq.view.headers, [this] { return ds_.worker.random().next(); },
      rq.request_id);
  rq.record.trace = &rq.trace;
}

net::awaitable<void> DownstreamConnection::serve(common::LocalShared<DownstreamConnection> self) {
  // A stream's serve() holds its connection (runStream) and, once done, closes its side of the
  // stream's pipe. (Not from a destructor: a coroutine abandoned at shutdown must
  // not call into a driver that may be gone.)
  RequestState& rq = rq_;
  rq.reset();
  const http::RequestHead& head = stream_encoder_ ? stream_request_.head : ds_.parser.head();
  rq.head = &head;
  rq.start = Clock::now();
  rq.snapshot = ds_.worker.snapshot();
  rq.view = http::toRequestView(head, ds_.listener->scheme, ds_.listener->gateway_port);
  // MeshConfig pathNormalization (Istio's default BASE), before routing and authorization;
  // what is forwarded too.
  if (http::normalizePath(rq.view.path, rq.normalized_path, pathNormalization())) {
    rq.view.path = rq.normalized_path;
  }
  rq.close = !head.keep_alive || ds_.worker.draining();
  ds_.forwarded_for.clear();
  ds_.in.consume(head.head_bytes);
  // A stream's body comes without HTTP/1.1 framing, up to the end of the stream.
  rq.body.start(head.framing, head.head_bytes, stream_encoder_ != nullptr);
  if (const auto id = rq.view.header("x-request-id"); id && !id->empty()) {
    rq.request_id = *id;
  } else {
    rq.generated_id.generate(ds_.worker.random());
    rq.request_id = rq.generated_id.view();
  }
  startTrace(rq);

  telemetry::AccessLogEntry& log = rq.record.log;
  log.start_time = std::chrono::system_clock::now();
  log.method = head.method;
  log.path = rq.view.path;
  log.protocol = !ds_.stream_protocol.empty() ? ds_.stream_protocol
                 : rq.http10()                ? "HTTP/1.0"
                                              : "HTTP/1.1";
  log.authority = rq.view.authority;
  log.user_agent = rq.view.header("user-agent").value_or(std::string_view());
  log.request_id = rq.request_id;
  // A view, not a copy: telemetry asks for a header only when a format, filter or tag does.
  log.request_headers = {&rq.view, [](const void* view, std::string_view name) {
                           return static_cast<const http::RequestView*>(view)->header(name);
                         }};
  log.downstream_remote_address = ds_.remote_endpoint;
  log.downstream_local_address = ds_.local_endpoint;
  log.requested_server_name = ds_.sni();
  rq.record.listener = ds_.listener->name;
  rq.record.listener_kind = ds_.listener->kind;
  if (ds_.listener->kind == tr::ListenerKind::kInbound) {
    readPeer();
  } else {
    log.downstream_peer_uri_san = ds_.peer_principal;  // a gateway's verified client, if any
  }

  if (ds_.listener->kind == tr::ListenerKind::kOutboundProxy && head.method == "CONNECT") {
    const ConnectResult connect = co_await serveConnect(ds_, rq, connect_log_);
    if (connect.serve_http_port) tunnel_port_ = connect.serve_http_port;
    if (!connect.reported) reportRequest();
    if (self) ds_.transport.close();
    co_return;
  }
  // Routing: the request phases decide, then the request is forwarded or answered here. In
  // serve() itself rather than a coroutine of its own: one frame fewer per request.
  rq.routes = listenerRoutes();
  const bool outside_registry = !tunnel_port_ && outsideRegistry(ds_, rq);
  PhaseOutcome outcome;
  if (!outside_registry) {
    outcome = runRequestPhases(ds_, rq);
    // A CUSTOM AuthorizationPolicy's external authorizer decides before the rest of the phases.
    if (outcome.ext_authz) outcome = co_await awaitExternalAuthorization(ds_, rq, outcome);
    if (outcome.delay) {
      ds_.timer.expires_after(*outcome.delay);
      co_await ds_.timer.async_wait(net::kAwait);
    }
  }
  if (outside_registry) {
    co_await serveOutsideRegistry(ds_, rq, connect_log_);
  } else if (!outcome.forward) {
    co_await sendLocalReply(ds_, rq, outcome.reply);
  } else {
    upstream_.emplace(ds_, rq, *rq.route, *outcome.forward);
    co_await upstream_->run();
    upstream_.reset();
  }
  // (Its coroutine only when there is a body left: a frame fewer for a request without one.)
  if (!rq.close && !rq.body.done()) co_await discardRequestBody(ds_, rq);
  reportRequest();
  if (self) ds_.transport.close();
}

void DownstreamConnection::reportRequest() {
  telemetry::AccessLogEntry& log = rq_.record.log;
  if (rq_.head) {
    const size_t head_bytes = stream_encoder_ ? stream_request_.head_size : rq_.head->head_bytes;
    log.bytes_received = head_bytes + rq_.body.bytesRead() + rq_.tunnel_bytes_received;
  }
  log.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - rq_.start);
  log.duration = std::chrono::duration_cast<std::chrono::milliseconds>(log.duration_us);
  log.x_forwarded_for = ds_.forwarded_for;
  if (stream_encoder_ && stream_encoder_->grpcRequest()) {
    rq_.record.grpc = true;
    rq_.record.grpc_status = stream_encoder_->grpcStatus();
  }
  ds_.worker.telemetry().requestDone(rq_.record);
}

}  // namespace halyard::proxy::runtime
