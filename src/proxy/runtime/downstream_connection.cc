#include "proxy/runtime/downstream_connection.h"

#include <variant>

#include "common/log.h"
#include "proxy/net/socket_util.h"
#include "proxy/runtime/grpc_status.h"
#include "proxy/runtime/responder.h"
#include "proxy/runtime/upstream_request.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;
using telemetry::ResponseFlag;

namespace {

// Where a route came from, for reasons: "default/api-virtual http[1]" (or its name).
std::string_view routeOrigin(const tr::Route& route) {
  return route.origin.empty() ? std::string_view(route.name) : std::string_view(route.origin);
}

std::string noRouteReason(const http::RequestView& view, bool no_virtual_host,
                          uint16_t gateway_port) {
  const std::string_view host = router::hostWithoutPort(view.authority);
  std::string reason;
  reason.append("no route for host ").append(host).append(" path ").append(view.pathOnly());
  if (no_virtual_host) {
    reason.append(" (no virtual host for ")
        .append(host)
        .append(" on port ")
        .append(std::to_string(gateway_port))
        .append(")");
  }
  return reason;
}

}  // namespace

DownstreamConnection::DownstreamConnection(Worker& worker, asio::ip::tcp::socket socket,
                                           std::shared_ptr<const ListenerInfo> listener)
    : ds_(worker, std::move(socket), std::move(listener)) {
  net::setNoDelay(ds_.socket());
  worker.track(this);
  worker.telemetry().connectionOpened(ds_.listener->name);
}

DownstreamConnection::~DownstreamConnection() {
  ds_.worker.telemetry().connectionClosed(ds_.listener->name);
  ds_.worker.untrack(this);
}

void DownstreamConnection::onDrain() {
  if (waiting_) cancelSocket(ds_.transport);
}

net::awaitable<void> DownstreamConnection::run(std::shared_ptr<DownstreamConnection> self) {
  DownstreamConnection& c = *self;
  if (!co_await c.setUpTransport()) {
    c.ds_.transport.close();
    co_return;
  }
  while (true) {
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
    co_await c.serve();
    if (c.rq_.close || c.ds_.worker.draining()) break;
    c.ds_.in.compact();  // pipelined bytes of the next request move to the front
    c.first_request_ = false;
  }
  c.ds_.transport.close();
}

net::awaitable<bool> DownstreamConnection::setUpTransport() {
  if (!ds_.listener->tls) co_return true;
  const std::shared_ptr<const WorkerSnapshot> snapshot = ds_.worker.snapshot();
  const tls::ListenerTls* listener =
      snapshot ? snapshot->tls().listener(ds_.listener->name) : nullptr;
  SSL* ssl = listener ? listener->newSession() : nullptr;
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
  co_return !ds_.worker.draining();
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

net::awaitable<void> DownstreamConnection::rejectHead(uint16_t status, std::string_view reason,
                                                      ResponseFlag flag, std::string_view details) {
  rq_.reset();
  rq_.start = Clock::now();
  rq_.record.log.start_time = std::chrono::system_clock::now();
  rq_.record.log.bytes_received = ds_.in.end();
  rq_.record.log.response_flags.set(flag);
  rq_.record.log.response_code_details = details;
  rq_.close = true;
  rq_.reason.assign(reason);
  LocalReply reply;
  reply.status = status;
  reply.reason = rq_.reason;
  co_await sendLocalReply(ds_, rq_, reply);
  reportRequest();
}

void DownstreamConnection::readPeer() {
  RequestRecord& record = rq_.record;
  const auto value = rq_.view.header(telemetry::kPeerHeader);
  if (!value || !telemetry::parsePeerIdentity(*value, record.peer)) return;
  record.has_peer = true;
  telemetry::formatPrincipal(rq_.peer_principal, record.peer.namespace_,
                             record.peer.service_account);
  record.peer_principal = rq_.peer_principal;
}

const ListenerRoutes* DownstreamConnection::listenerRoutes() {
  const WorkerSnapshot* snapshot = rq_.snapshot.get();
  if (!snapshot) return nullptr;
  if (ds_.listener->kind == tr::ListenerKind::kOutboundProxy) {
    // Per request: the destination port's route table, from the authority the app asked for.
    const uint16_t port = router::authorityPort(rq_.view.authority, 80);
    rq_.view.listener_port = port;
    return snapshot->outboundPort(port);
  }
  if (snapshot->generation() != routes_generation_) {
    routes_generation_ = snapshot->generation();
    routes_ = snapshot->listener(ds_.listener->name);
  }
  return routes_;
}

net::awaitable<void> DownstreamConnection::serve() {
  RequestState& rq = rq_;
  rq.reset();
  const http::RequestHead& head = ds_.parser.head();
  rq.head = &head;
  rq.start = Clock::now();
  rq.snapshot = ds_.worker.snapshot();
  rq.view = http::toRequestView(head, ds_.listener->scheme, ds_.listener->gateway_port);
  rq.close = !head.keep_alive || ds_.worker.draining();
  ds_.forwarded_for.clear();
  ds_.in.consume(head.head_bytes);
  rq.body.start(head.framing, head.head_bytes);
  if (const auto id = rq.view.header("x-request-id"); id && !id->empty()) {
    rq.request_id = *id;
  } else {
    rq.generated_id.generate(ds_.worker.random());
    rq.request_id = rq.generated_id.view();
  }

  telemetry::AccessLogEntry& log = rq.record.log;
  log.start_time = std::chrono::system_clock::now();
  log.method = head.method;
  log.path = head.path;
  log.protocol = rq.http10() ? "HTTP/1.0" : "HTTP/1.1";
  log.authority = rq.view.authority;
  log.user_agent = rq.view.header("user-agent").value_or(std::string_view());
  log.request_id = rq.request_id;
  log.downstream_remote_address = ds_.remote_endpoint;
  log.downstream_local_address = ds_.local_endpoint;
  rq.record.listener = ds_.listener->name;
  rq.record.listener_kind = ds_.listener->kind;
  if (ds_.listener->kind == tr::ListenerKind::kInbound) readPeer();

  co_await route();
  if (!rq.close) co_await discardRequestBody(ds_, rq);
  reportRequest();
}

// What the route says to do with the request, decided without I/O. Local replies keep their
// strings in rq_ (reason, reply_headers), so the coroutine that sends them stays small.
DownstreamConnection::Decision DownstreamConnection::decide() {
  RequestState& rq = rq_;
  telemetry::AccessLogEntry& log = rq.record.log;
  auto reply = [&](uint16_t status, bool reason_body = true) {
    Decision d;
    d.reply = LocalReply{.status = status,
                         .reason = rq.reason,
                         .reason_body = reason_body,
                         .headers = rq.reply_headers};
    return d;
  };
  rq.routes = listenerRoutes();
  if (!rq.routes) {
    log.response_flags.set(ResponseFlag::kNoRouteFound);
    log.response_code_details = "route_not_found";
    rq.reason = "no route for host " + std::string(router::hostWithoutPort(rq.view.authority));
    if (ds_.listener->kind == tr::ListenerKind::kOutboundProxy) {
      const std::string port = std::to_string(rq.view.listener_port);
      rq.reason +=
          ": no service in the mesh has port " + port + " (no listener 0.0.0.0_" + port + ")";
    } else {
      // The listener went away in a reload while this connection stayed open.
      rq.reason += ": listener " + ds_.listener->name + " is no longer configured";
      rq.close = true;
    }
    return reply(404);
  }

  const router::RouteSelection selection = rq.routes->index.select(rq.view);
  if (!selection.virtual_host || !selection.route) {
    log.response_flags.set(ResponseFlag::kNoRouteFound);
    log.response_code_details = "route_not_found";
    rq.reason = noRouteReason(rq.view, !selection.virtual_host, rq.view.listener_port);
    return reply(404);
  }
  if (selection.virtual_host->require_tls) {
    rq.reply_headers.emplace_back("location", router::httpsRedirectLocation(rq.view));
    log.response_code_details = "direct_response";
    rq.reason = "virtual host " + selection.virtual_host->name +
                " requires TLS (Gateway tls.httpsRedirect)";
    return reply(301);
  }
  const tr::Route& route = *selection.route;
  rq.route = &route;
  log.route_name = route.name;

  // Istio's filter order: CORS before fault injection before the router.
  if (route.cors) {
    rq.cors = router::evaluateCors(*route.cors, rq.view);
    if (rq.cors.answer_locally) {
      log.response_code_details = "cors_preflight";
      rq.reason = "CORS preflight answered by route " + std::string(routeOrigin(route));
      Decision d = reply(200, false);
      d.reply.headers = rq.cors.response_headers;
      return d;
    }
  }
  std::optional<translate::Millis> delay;
  if (route.fault) {
    upstream::FastRandom& random = ds_.worker.random();
    const router::FaultDecision fault =
        router::decideFault(*route.fault, random.next(), random.next());
    if (fault.delay) {
      log.response_flags.set(ResponseFlag::kDelayInjected);
      delay = fault.delay;
    }
    if (fault.abort_status || fault.abort_grpc_status) {
      log.response_flags.set(ResponseFlag::kFaultInjected);
      log.response_code_details = "fault_filter_abort";
      rq.reason = "fault injection abort (route " + std::string(routeOrigin(route)) + ")";
      Decision d;
      if (fault.abort_grpc_status) {
        rq.reply_headers.emplace_back("grpc-status",
                                      std::string(grpcStatusNumber(*fault.abort_grpc_status)));
        d = reply(200, false);
        d.reply.content_type = "application/grpc";
      } else {
        d = reply(*fault.abort_status);
      }
      d.delay = delay;
      return d;
    }
  }

  Decision d;
  d.delay = delay;
  if (const auto* redirect = std::get_if<tr::RedirectAction>(&route.action)) {
    rq.reply_headers.emplace_back("location", router::redirectLocation(route, *redirect, rq.view));
    log.response_code_details = "direct_response";
    rq.reason = "redirect configured by route " + std::string(routeOrigin(route));
    d.reply = reply(redirect->code).reply;
    d.reply.route_ops = &route.response_headers;
  } else if (const auto* direct = std::get_if<tr::DirectResponseAction>(&route.action)) {
    log.response_code_details = "direct_response";
    rq.reason = "direct response configured by route " + std::string(routeOrigin(route));
    d.reply = reply(direct->status, false).reply;
    d.reply.body = direct->body;
    d.reply.route_ops = &route.response_headers;
  } else {
    d.forward = &std::get<tr::ForwardAction>(route.action);
  }
  return d;
}

net::awaitable<void> DownstreamConnection::route() {
  const Decision d = decide();
  if (d.delay) {
    ds_.timer.expires_after(*d.delay);
    co_await ds_.timer.async_wait(net::kAwait);
  }
  if (!d.forward) co_return co_await sendLocalReply(ds_, rq_, d.reply);
  upstream_.emplace(ds_, rq_, *rq_.route, *d.forward);
  co_await upstream_->run();
  upstream_.reset();
}

void DownstreamConnection::reportRequest() {
  telemetry::AccessLogEntry& log = rq_.record.log;
  if (rq_.head) {
    log.bytes_received = rq_.head->head_bytes + rq_.body.bytesRead() + rq_.tunnel_bytes_received;
  }
  log.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - rq_.start);
  log.x_forwarded_for = ds_.forwarded_for;
  ds_.worker.telemetry().requestDone(rq_.record);
}

}  // namespace halyard::proxy::runtime
