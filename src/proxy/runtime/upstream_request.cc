#include "proxy/runtime/upstream_request.h"

#include <algorithm>
#include <array>
#include <asio/buffer.hpp>
#include <asio/steady_timer.hpp>
#include <charconv>

#include "proxy/http/h1_syntax.h"
#include "proxy/http/h1_writer.h"
#include "proxy/http/h2_response_encoder.h"
#include "proxy/net/socket_util.h"
#include "proxy/net/spawn.h"
#include "proxy/router/header_ops.h"
#include "proxy/runtime/grpc_status.h"
#include "proxy/runtime/hop_by_hop.h"
#include "proxy/runtime/mirror.h"
#include "proxy/runtime/responder.h"
#include "proxy/runtime/tunnel.h"
#include "proxy/runtime/worker.h"
#include "proxy/upstream/h2_session.h"
#include "proxy/upstream/hash_key.h"
#include "proxy/upstream/load_balancer.h"
#include "telemetry/peer_identity.h"

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;
using telemetry::ResponseFlag;
using upstream::UpstreamConnection;
using upstream::UpstreamHost;

namespace {

// Fields an HTTP/2 upstream head is given room for at first (it grows for more).
// (Small enough for the allocator's per-thread cache.)
constexpr size_t kUsualFields = 24;
constexpr size_t kUsualFieldBytes = 512;
// Hosts remembered for the previous-hosts retry predicate.
constexpr size_t kMaxTriedHosts = 8;

// Counts a request in flight to a host while it lives (LEAST_REQUEST reads the count).
class ActiveRequest {
 public:
  explicit ActiveRequest(UpstreamHost& host) : host_(&host) { ++host_->active_requests; }
  ~ActiveRequest() { --host_->active_requests; }
  ActiveRequest(const ActiveRequest&) = delete;
  ActiveRequest& operator=(const ActiveRequest&) = delete;

 private:
  UpstreamHost* host_;
};

struct Digits {
  std::array<char, 24> buf;
  size_t size;
  std::string_view view() const { return {buf.data(), size}; }
};
Digits digits(uint64_t v) {
  Digits d{};
  d.size = static_cast<size_t>(std::to_chars(d.buf.data(), d.buf.data() + d.buf.size(), v).ptr -
                               d.buf.data());
  return d;
}

std::optional<std::string_view> findHeader(std::span<const http::HeaderView> headers,
                                           std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

}  // namespace

UpstreamRequest::UpstreamRequest(Downstream& ds, RequestState& rq, const tr::Route& route,
                                 const tr::ForwardAction& action)
    : ds_(ds),
      rq_(rq),
      route_(route),
      action_(action),
      retry_(action.retry),
      upload_done_(ds.transport.executor()) {}

net::awaitable<void> UpstreamRequest::fail(uint16_t status, ResponseFlag flag,
                                           std::string_view details) {
  co_await sendFailure(ds_, rq_, RequestFailure{status, flag, details});
}

net::awaitable<void> UpstreamRequest::run() {
  telemetry::AccessLogEntry& log = rq_.record.log;
  upstream::FastRandom& random = ds_.worker.random();
  destination_ = &router::pickCluster(action_, random.next());
  log.upstream_cluster = destination_->cluster;
  hosts_ = rq_.snapshot->cluster(destination_->cluster);
  if (!hosts_) {
    rq_.reason = "cluster " + destination_->cluster + " (destination of route " +
                 std::string(router::routeOrigin(route_)) + ") does not exist";
    co_return co_await fail(503, ResponseFlag::kNoClusterFound, "cluster_not_found");
  }
  rq_.record.cluster = &hosts_->cluster();
  // gRPC's grpc-timeout is the request's timeout, capped by the route's (Istio's
  // maxStreamDuration.grpcTimeoutHeaderMax is the route timeout, none when it has none).
  timeout_ = action_.timeout;
  if (const auto header = rq_.view.header("grpc-timeout")) {
    if (const auto t = parseGrpcTimeout(*header); t && (!timeout_ || *t < *timeout_)) {
      timeout_ = *t;
      grpc_timeout_ = true;
    }
  }
  if (!hosts_->resolvedAlways()) co_await hosts_->ensureResolved();
  if (hosts_->hosts().empty()) {
    rq_.reason = "no healthy upstream host in cluster " + destination_->cluster;
    if (!hosts_->resolveError().empty()) rq_.reason += ": " + hosts_->resolveError();
    co_return co_await fail(503, ResponseFlag::kNoHealthyUpstream, "no_healthy_upstream");
  }

  // connectionPool http2MaxRequests (all protocols, as in Istio): requests in flight to the
  // cluster, held across retries.
  const tr::ConnectionPoolPolicy& limits = hosts_->cluster().pool;
  // Counted only when limited: an unlimited cluster pays no shared atomic per request.
  upstream::Slot request_slot;
  if (limits.max_requests != 0) {
    request_slot = upstream::Slot::acquire(hosts_->state().requests, limits.max_requests);
  }
  if (limits.max_requests != 0 && !request_slot) {
    ds_.worker.telemetry().upstreamOverflow(hosts_->cluster(), upstream::Overflow::kRequests);
    rq_.reason = "too many requests in flight to cluster " + destination_->cluster +
                 " (connectionPool.http.http2MaxRequests " + std::to_string(limits.max_requests) +
                 ")";
    co_return co_await fail(503, ResponseFlag::kUpstreamOverflow,
                            "upstream_reset_before_response_started{overflow}");
  }
  if (const auto& hash = hosts_->cluster().hash) {
    upstream::RequestHash h = upstream::requestHash(*hash, rq_.view, ds_.remote_ip,
                                                    ds_.remote_endpoint + ds_.local_endpoint);
    hash_ = h.hash;
    set_cookie_ = std::move(h.set_cookie);
  }

  const http::BodyFraming& framing = rq_.head->framing;
  if (framing.kind == http::BodyKind::kNone) {
    mode_ = BodyMode::kNone;
  } else if (framing.kind == http::BodyKind::kContentLength &&
             framing.content_length <= ds_.worker.options().max_replay_body) {
    mode_ = BodyMode::kBuffered;
    if (!co_await bufferBody()) {
      log.response_flags.set(ResponseFlag::kDownstreamConnectionTermination);
      rq_.close = true;
      co_return;
    }
  } else {
    mode_ = BodyMode::kStreamed;
  }
  // HTTP/2 destination: a stream on a shared connection (upstream/h2_session.h), never pooled.
  h2_ = hosts_->cluster().http2 ||
        (hosts_->cluster().use_client_protocol && !ds_.stream_protocol.empty());
  if (!buildHead()) {
    rq_.reason = "cannot forward on route " + std::string(router::routeOrigin(route_)) +
                 ": the rewritten path is not a valid request target";
    co_return co_await fail(500, ResponseFlag::kUpstreamProtocolError, "invalid_rewritten_path");
  }
  startMirrors();

  std::array<UpstreamHost*, kMaxTriedHosts> tried{};
  size_t tried_count = 0;
  upstream::Slot retry_slot;  // the retry in flight, if any
  while (true) {
    // Istio's previous-hosts predicate, unless the destination hashes consistently.
    const size_t avoid = action_.retry.retry_other_hosts ? tried_count : 0;
    UpstreamHost* host =
        hosts_->cluster().lb == tr::LbPolicy::kPassthrough ? originalDestination() : nullptr;
    if (!host) host = upstream::pickHost(*hosts_, random, std::span(tried.data(), avoid), hash_);
    if (!host) {
      rq_.reason = "no healthy upstream host in cluster " + destination_->cluster;
      co_return co_await fail(503, ResponseFlag::kNoHealthyUpstream, "no_healthy_upstream");
    }
    if (tried_count < tried.size()) tried[tried_count++] = host;
    ActiveRequest active(*host);
    log.upstream_host = host->name;
    rq_.record.endpoint = hosts_->endpoint(*host);
    Attempt a = co_await attempt(*host);
    reportOutcome(*host, a);

    bool retriable = false;
    switch (a.failure) {
      case Failure::kNone: {
        const http::ResponseHead& head = a.connection->parser().head();
        retriable = retry_.retriableResponse(head.status, head.headers);
        if (!retriable || !retry_.retriesLeft() || !replayable()) {
          if (retriable && action_.retry.attempts > 0) {
            log.response_flags.set(ResponseFlag::kUpstreamRetryLimitExceeded);
          }
          co_return co_await relay(std::move(a.connection));
        }
        // connectionPool maxRetries: retries in flight to the cluster. None left: the response
        // stands, as with Envoy's retry circuit breaker.
        if (limits.max_retries != 0) {
          retry_slot.release();  // the previous retry is over
          retry_slot = upstream::Slot::acquire(hosts_->state().retries, limits.max_retries);
        }
        if (limits.max_retries != 0 && !retry_slot) {
          ds_.worker.telemetry().upstreamOverflow(hosts_->cluster(), upstream::Overflow::kRetries);
          co_return co_await relay(std::move(a.connection));
        }
        // Retried: this response is dropped with its connection.
        net::closeQuietly(a.connection->socket());
        a.connection.reset();
        break;
      }
      case Failure::kConnect:
        retriable = retry_.retriableConnectFailure();
        break;
      case Failure::kReset:
        retriable = a.refused ? retry_.retriableRefusedStream() : retry_.retriableReset(true);
        break;
      case Failure::kPerTryTimeout:
        retriable = retry_.retriableTimeout();
        break;
      case Failure::kTimeout:
      case Failure::kIdleTimeout:
      case Failure::kProtocol:
      case Failure::kDownstream:
      case Failure::kBadBody:
      case Failure::kOverflow:
        retriable = false;
        break;
    }
    if (a.failure != Failure::kNone && (!retriable || !retry_.retriesLeft() || !replayable())) {
      co_return co_await replyFailure(a, retriable && action_.retry.attempts > 0);
    }
    if (a.failure != Failure::kNone) {
      // The same limit for a failed attempt: without a retry slot, the failure is the answer.
      if (limits.max_retries != 0) {
        retry_slot.release();  // the previous retry is over
        retry_slot = upstream::Slot::acquire(hosts_->state().retries, limits.max_retries);
      }
      if (limits.max_retries != 0 && !retry_slot) {
        ds_.worker.telemetry().upstreamOverflow(hosts_->cluster(), upstream::Overflow::kRetries);
        co_return co_await replyFailure(a, false);
      }
    }
    rq_.record.retried = true;
    const auto backoff = retry_.takeRetry(random);
    if (deadline_ && Clock::now() + backoff >= *deadline_) {
      co_return co_await replyFailure(Attempt{.failure = Failure::kTimeout}, false);
    }
    ds_.timer.expires_after(backoff);
    co_await ds_.timer.async_wait(net::kAwait);
  }
}

bool UpstreamRequest::replayable() const {
  return mode_ != BodyMode::kStreamed || (!rq_.body.started() && !upload_running_);
}

// Reads a small Content-Length body whole, so that every attempt can send it again.
net::awaitable<bool> UpstreamRequest::bufferBody() {
  const uint64_t length = rq_.head->framing.content_length;
  if (ds_.in.readableSize() >= length) {
    body_ = rq_.body.takeBuffered(ds_.in);
    co_return true;
  }
  if (rq_.head->expect_continue && !rq_.sent_continue) {
    const bool sent = co_await sendContinue(ds_, rq_);
    if (!sent) co_return false;
  }
  ds_.replay_body.clear();
  ds_.replay_body.reserve(static_cast<size_t>(length));
  while (!rq_.body.done()) {
    const BodyRead r = co_await readRequestBody(ds_, rq_);
    if (r.error != BodyError::kNone) co_return false;
    ds_.replay_body.append(r.data);
  }
  body_ = ds_.replay_body;
  co_return true;
}

// The request head for the upstream: request line (rewritten path), Host (rewritten
// authority), the end-to-end headers of the client, x-forwarded-for/-proto, x-request-id, the
// route's then the destination's request header operations, and framing headers of our own.
//
// For an HTTP/2 destination the head is a field list (h2_head_), pseudo-header fields first,
// without HTTP/1.1's connection-specific fields; HTTP/1.1 text (ds_.upstream_head) is written
// for an HTTP/1.1 destination, and for mirrors, which take it as it is.
bool UpstreamRequest::buildHead() {
  const http::RequestHead& head = *rq_.head;
  const http::RequestView& view = rq_.view;
  std::string& out = ds_.upstream_head;
  out.clear();
  h2_head_.clear();
  if (h2_) h2_head_.reserve(kUsualFieldBytes, kUsualFields);
  const bool text = !h2_ || !action_.mirrors.empty();
  // One header to whichever forms are wanted.
  auto put = [&](std::string_view name, std::string_view value) {
    if (text) http::appendHeader(out, name, value);
    if (h2_ && !http::isConnectionSpecific(name) && name != "te") h2_head_.add(name, value);
  };
  rewritten_path_ = router::rewritePath(route_, action_, view);
  // view.path: the path as normalized (http/path_normalizer.h), what routing and authorization saw.
  const std::string_view path = rewritten_path_ ? *rewritten_path_ : view.path;
  if (text) {
    if (!http::appendRequestLine(out, head.method, path)) return false;
  } else if (!http::syntax::isToken(head.method) || path.empty() ||
             !std::all_of(path.begin(), path.end(), http::syntax::isTargetChar)) {
    return false;  // what appendRequestLine refuses
  }
  std::string_view authority = view.authority;
  if (destination_->authority_rewrite) {
    authority = *destination_->authority_rewrite;
  } else if (action_.authority_rewrite) {
    authority = *action_.authority_rewrite;
  }
  if (text) http::appendHeader(out, "host", authority);
  if (h2_) {
    h2_head_.add(":method", head.method);
    h2_head_.add(":authority", authority);
    h2_head_.add(":path", path);
  }
  upstream_host_ = router::hostWithoutPort(authority);

  // Envoy at the edge appends the client address to x-forwarded-for and sets the proto.
  ds_.forwarded_for.clear();
  if (const auto xff = view.header("x-forwarded-for"); xff && !xff->empty()) {
    ds_.forwarded_for.append(*xff).append(", ");
  }
  ds_.forwarded_for.append(ds_.remote_ip);

  const bool extra_options = hasExtraConnectionOptions(head.headers);
  auto& headers = ds_.headers;
  headers.clear();
  const bool traced = rq_.trace.active();
  for (const auto& h : head.headers) {
    // The trace headers first: a traced request's five of them skip the other tests (an inline
    // switch on the length, where the tests after it are a dozen comparisons each).
    if ((traced && telemetry::TraceContext::isPropagationHeader(h.name)) || h.name == "host" ||
        h.name == "expect" || h.name == "x-forwarded-for" || h.name == "x-forwarded-proto" ||
        h.name == "x-request-id" || (rewritten_path_ && h.name == "x-envoy-original-path") ||
        h.name == telemetry::kPeerHeader || h.name == telemetry::kRetiredPeerHeader ||
        h.name == "x-forwarded-client-cert" || mustDrop(head.headers, h.name, extra_options) ||
        rq_.authnRewrites(h.name)) {
      continue;
    }
    if (rq_.ext_authz_ran && (!rq_.ext_authz_headers.empty() || !rq_.ext_authz_remove.empty())) {
      // What the external authorizer sets replaces the client's own value, and what it
      // removes goes (CUSTOM AuthorizationPolicy, runtime/ext_authz_client.h).
      auto named = [&h](const auto& e) { return e.first == h.name; };
      if (std::any_of(rq_.ext_authz_headers.begin(), rq_.ext_authz_headers.end(), named) ||
          std::find(rq_.ext_authz_remove.begin(), rq_.ext_authz_remove.end(), h.name) !=
              rq_.ext_authz_remove.end()) {
        continue;
      }
    }
    headers.push_back(h);
  }
  if (rq_.authn_ran) {
    for (const auto& [name, value] : rq_.authn_headers) headers.push_back({name, value});
  }
  if (rq_.ext_authz_ran) {
    for (const auto& [name, value] : rq_.ext_authz_headers) headers.push_back({name, value});
  }
  // What a client says of itself never passes. A gateway or outbound listener states its own
  // workload's metadata instead; an inbound listener (the last hop) consumed the caller's and
  // tells the app who called with x-forwarded-client-cert, from the certificate (Envoy's
  // SANITIZE_SET: a client's own XFCC is replaced, and removed on plaintext).
  if (ds_.listener->kind == tr::ListenerKind::kInbound) {
    if (!ds_.forwarded_client_cert.empty()) {
      headers.push_back({"x-forwarded-client-cert", ds_.forwarded_client_cert});
    }
  } else if (const std::string& peer = ds_.worker.options().peer_header; !peer.empty()) {
    headers.push_back({telemetry::kPeerHeader, peer});
  }
  headers.push_back({"x-forwarded-for", ds_.forwarded_for});
  headers.push_back({"x-forwarded-proto", view.scheme});
  headers.push_back({"x-request-id", rq_.request_id});
  // Envoy keeps the path a rewrite replaced, for the upstream and for access logs.
  if (rewritten_path_) headers.push_back({"x-envoy-original-path", view.path});
  // This hop's trace context goes after the route's header operations, as Envoy's tracer
  // injects it after the router's, and replaces what they set (one copy of each header, ours);
  // HTTP/1.1 takes it as one pre-rendered block.
  const bool tracing = rq_.trace.active();
  router::applyHeaderOps(headers, {&route_.request_headers, &destination_->request_headers},
                         [&](std::string_view name, std::string_view value) {
                           if (!tracing || !telemetry::TraceContext::isPropagationHeader(name)) {
                             put(name, value);
                           }
                         });
  if (tracing) {
    if (text) out.append(rq_.trace.http1Block());
    if (h2_) {
      rq_.trace.forEachHeader([&](std::string_view n, std::string_view v) { h2_head_.add(n, v); });
    }
  }
  switch (head.framing.kind) {
    case http::BodyKind::kContentLength:
      put("content-length", digits(head.framing.content_length).view());
      break;
    case http::BodyKind::kChunked:
      // HTTP/2 frames a body of unknown length itself.
      if (text) http::appendHeader(out, "transfer-encoding", "chunked");
      break;
    case http::BodyKind::kNone:
    case http::BodyKind::kUntilClose:
      break;
  }
  if (head.upgrade && text) {
    http::appendHeader(out, "connection", "upgrade");
    http::appendHeader(out, "upgrade", head.upgrade_protocol);
  }
  if (h2_) {
    // gRPC servers require "te: trailers", which the client's hop dropped as hop-by-hop.
    bool trailers = false;
    for (const auto& h : head.headers) {
      if ((h.name == "te" && h.value == "trailers") ||
          (h.name == "content-type" && h.value.starts_with("application/grpc"))) {
        trailers = true;
      }
    }
    if (trailers) h2_head_.add("te", "trailers");
  }
  if (text) http::appendHeadEnd(out);
  return true;
}

void UpstreamRequest::startMirrors() {
  if (action_.mirrors.empty() || mode_ == BodyMode::kStreamed) return;
  for (const auto& m : action_.mirrors) {
    if (!router::sampled(m.per_million, ds_.worker.random().next())) continue;
    startMirror(ds_.worker, rq_.snapshot, m.cluster, ds_.upstream_head, body_, rq_.head->method);
  }
}

net::awaitable<UpstreamRequest::Attempt> UpstreamRequest::attempt(UpstreamHost& host) {
  const tr::Cluster& cluster = hosts_->cluster();
  upstream::ConnectionPool& pool = ds_.worker.pool();
  const auto chosen = hosts_->transportFor(rq_.record.endpoint, upstream_host_);
  if (!chosen) {
    co_return Attempt{.failure = Failure::kConnect,
                      .detail = "no TLS context for the cluster: " + std::string(chosen.error())};
  }
  const upstream::TransportSettings& transport = *chosen;
  const bool h2 = h2_;
  std::unique_ptr<UpstreamConnection> c =
      h2 ? nullptr : pool.takeIdle(host, transport, &cluster.pool);
  for (int round = 0;; ++round) {
    if (!c) {
      // A stream on a shared HTTP/2 connection with room is not a connection: the cluster's
      // connection counters count the connections streams had to make.
      if (h2) c = upstream::openH2StreamNow(host, ds_.transport.executor(), transport);
      if (h2 && !c) {
        bool made = false;
        common::Expected<std::unique_ptr<UpstreamConnection>> connected =
            co_await upstream::openH2Stream(pool, host, cluster.connect_timeout, transport, &made);
        if (made) {
          ds_.worker.telemetry().upstreamConnect(cluster, connected.ok());
          if (transport.tls &&
              (connected.ok() || connected.error().kind == common::ErrorKind::kProtocol)) {
            ds_.worker.telemetry().upstreamTlsHandshake(cluster, connected.ok());
          }
        }
        if (!connected)
          co_return Attempt{.failure = Failure::kConnect, .detail = connected.error().message};
        c = std::move(*connected);
      } else if (!h2) {
        Attempt failed = co_await connectWithinLimits(host, transport, c);
        if (!c) co_return failed;
      }
    }
    const bool reused = c->reused();
    c->countRequest();
    secure_ = transport.tls != nullptr;
    rq_.upstream_principal = c->peerPrincipal();
    rq_.record.upstream_principal = rq_.upstream_principal;
    rq_.record.log.upstream_peer_uri_san = rq_.upstream_principal;
    // The exchange: the request goes out, then its response head is awaited. Only a step that
    // may wait takes a coroutine frame (an HTTP/2 request without a body has nothing to write).
    Attempt a = startExchange(*c);
    if (a.failure == Failure::kNone && sendsMore(*c)) a = co_await sendRequest(*c);
    if (a.failure == Failure::kNone) {
      // While a streamed body is being sent, the upload sees the client go instead.
      const bool watch = mode_ != BodyMode::kStreamed;
      if (watch) watchClient(*c);
      a = co_await readResponseHead(*c);
      if (watch) {
        stopWatchingClient();
        if (client_gone_) a.failure = Failure::kDownstream;
      }
    }
    if (a.failure == Failure::kNone) {
      a.connection = std::move(c);
      co_return a;
    }
    // The upstream closed an idle connection just as it was reused: once more on a new one,
    // which is not a retry (nothing reached the application).
    const bool stale = reused && round == 0 && a.failure == Failure::kReset && !a.response_bytes &&
                       mode_ != BodyMode::kStreamed;
    co_await stopUpload(*c);  // the upload refers to the connection that is about to go
    net::closeQuietly(c->socket());
    c.reset();
    if (!stale) co_return a;
  }
}

net::awaitable<UpstreamRequest::Attempt> UpstreamRequest::connectWithinLimits(
    UpstreamHost& host, const upstream::TransportSettings& transport,
    std::unique_ptr<UpstreamConnection>& out) {
  const tr::Cluster& cluster = hosts_->cluster();
  upstream::ConnectionPool& pool = ds_.worker.pool();
  upstream::ClusterState& state = hosts_->state();
  const tr::ConnectionPoolPolicy& limits = cluster.pool;
  upstream::Slot connection;
  if (limits.max_connections != 0) {
    connection = upstream::Slot::acquire(state.connections, limits.max_connections);
  }
  if (limits.max_connections != 0 && !connection) {
    // Every connection the cluster may have is open: wait for one as a pending request, if
    // http1MaxPendingRequests has room.
    ds_.worker.telemetry().upstreamOverflow(cluster, upstream::Overflow::kConnections);
    upstream::Slot pending = upstream::Slot::acquire(state.pending, limits.max_pending_requests);
    if (!pending) {
      ds_.worker.telemetry().upstreamOverflow(cluster, upstream::Overflow::kPending);
      co_return Attempt{.failure = Failure::kOverflow,
                        .detail = "connectionPool limits of cluster " + cluster.name +
                                  " reached (maxConnections " +
                                  std::to_string(limits.max_connections) +
                                  ", http1MaxPendingRequests " +
                                  std::to_string(limits.max_pending_requests) + ")"};
    }
    // Other workers' idle connections give their slots up; this worker's own idle ones to
    // this host are taken as they come back (ConnectionPool::release keeps them for us).
    pool.shared().reclaimIdle(pool.reclaimerId(), {host.endpoint});
    ++host.waiters;
    const Clock::time_point give_up =
        action_.timeout ? Clock::now() + *action_.timeout : ds_.idleDeadline();
    asio::steady_timer poll(ds_.transport.executor());
    while (true) {
      out = pool.takeIdle(host, transport, &limits);
      if (out) break;
      connection = upstream::Slot::acquire(state.connections, limits.max_connections);
      if (connection) break;
      if (Clock::now() >= give_up) break;
      // Slots free up on other threads without an event here: look again shortly.
      poll.expires_after(std::chrono::milliseconds(1));
      co_await poll.async_wait(net::kAwait);
    }
    --host.waiters;
    if (out) co_return Attempt{};
    if (!connection) co_return Attempt{.failure = Failure::kTimeout};
  }
  auto connected = co_await pool.connect(host, cluster.connect_timeout, transport, &limits);
  ds_.worker.telemetry().upstreamConnect(cluster, connected.ok());
  if (transport.tls && (connected.ok() || connected.error().kind == common::ErrorKind::kProtocol)) {
    ds_.worker.telemetry().upstreamTlsHandshake(cluster, connected.ok());
  }
  if (!connected) {
    co_return Attempt{.failure = Failure::kConnect,
                      .connect_timeout = connected.error().kind == common::ErrorKind::kTimeout,
                      .detail = connected.error().message};
  }
  out = std::move(*connected);
  if (connection) {
    out->adoptCount(hosts_->sharedState());
    connection.detach();
  }
  if (auto* detector = hosts_->outlier()) {
    const size_t i = hosts_->indexOf(host);
    if (i < hosts_->hosts().size()) detector->connected(hosts_->health(i));
  }
  co_return Attempt{};
}

// PASSTHROUGH: the address the client asked for, when its authority is an IP address (an
// HTTP proxy request to "10.0.0.7:8080"); null otherwise (the cluster's hosts are balanced).
UpstreamHost* UpstreamRequest::originalDestination() {
  const std::string_view authority = rq_.view.authority;
  std::string_view host = authority;
  uint16_t port = hosts_->cluster().port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return nullptr;
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      const std::string_view p = authority.substr(close + 2);
      std::from_chars(p.data(), p.data() + p.size(), port);
    }
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    const std::string_view p = host.substr(colon + 1);
    std::from_chars(p.data(), p.data() + p.size(), port);
    host = host.substr(0, colon);
  }
  asio::error_code ec;
  const auto ip = asio::ip::make_address(std::string(host), ec);
  if (ec || port == 0) return nullptr;
  passthrough_ = ds_.worker.pool().host(asio::ip::tcp::endpoint(ip, port));
  return passthrough_.get();
}

void UpstreamRequest::reportOutcome(UpstreamHost& host, const Attempt& a) {
  upstream::OutlierDetector* detector = hosts_->outlier();
  if (!detector) return;
  const size_t i = hosts_->indexOf(host);
  if (i >= hosts_->hosts().size()) return;
  upstream::HostHealth& health = hosts_->health(i);
  const int64_t now = upstream::steadyNowNs();
  upstream::Ejection ejection = upstream::Ejection::kNone;
  switch (a.failure) {
    case Failure::kNone:
      ejection = detector->response(health, a.connection->parser().head().status, now);
      break;
    case Failure::kConnect:
      ejection = detector->localFailure(health,
                                        a.connect_timeout ? upstream::LocalOrigin::kTimeout
                                                          : upstream::LocalOrigin::kConnectFailure,
                                        now);
      break;
    case Failure::kReset:
      ejection = detector->localFailure(health, upstream::LocalOrigin::kReset, now);
      break;
    case Failure::kTimeout:
    case Failure::kPerTryTimeout:
    case Failure::kIdleTimeout:
      ejection = detector->localFailure(health, upstream::LocalOrigin::kTimeout, now);
      break;
    case Failure::kProtocol:
      ejection = detector->response(health, 502, now);
      break;
    case Failure::kDownstream:
    case Failure::kBadBody:
    case Failure::kOverflow:
      break;
  }
  if (ejection != upstream::Ejection::kNone) {
    ds_.worker.telemetry().outlierEjection(hosts_->cluster(), ejection);
  }
}

UpstreamRequest::Attempt UpstreamRequest::startExchange(UpstreamConnection& c) {
  c.parser().reset(rq_.head->method);
  c.buffer().rewindTo(0);
  attempt_start_ = Clock::now();
  try_deadline_.reset();
  if (mode_ != BodyMode::kStreamed) {
    // The whole request is here: the route timeout starts (once, for every attempt).
    if (timeout_ && !deadline_) deadline_ = attempt_start_ + *timeout_;
    if (action_.retry.per_try_timeout)
      try_deadline_ = attempt_start_ + *action_.retry.per_try_timeout;
  }
  // An HTTP/2 stream: the head goes as fields.
  if (c.h2 && !upstream::startH2Request(*c.h2, h2_head_, rq_.head->framing, ds_.request_trailers)) {
    // The connection is closing (GOAWAY, or gone): the stream never went out.
    return Attempt{.failure = Failure::kReset,
                   .peer_closed = true,
                   .refused = true,
                   .detail = "http2 connection to " + c.host().name + " closed"};
  }
  return Attempt{};
}

bool UpstreamRequest::sendsMore(const UpstreamConnection& c) const {
  return !c.h2 || mode_ == BodyMode::kStreamed || (mode_ == BodyMode::kBuffered && !body_.empty());
}

net::awaitable<UpstreamRequest::Attempt> UpstreamRequest::sendRequest(UpstreamConnection& c) {
  const Clock::time_point write_deadline = std::min(ds_.idleDeadline(), responseDeadline());
  IoResult w;
  if (c.h2) {
    // A buffered body goes as bytes (DATA).
    if (mode_ == BodyMode::kBuffered && !body_.empty()) {
      w = co_await writeAll(c.transport(), asio::buffer(body_.data(), body_.size()), c.writeTimer(),
                            write_deadline);
    }
  } else if (mode_ == BodyMode::kBuffered) {
    const std::array<asio::const_buffer, 2> parts = {asio::buffer(ds_.upstream_head),
                                                     asio::buffer(body_.data(), body_.size())};
    w = co_await writeAll(c.transport(), parts, c.writeTimer(), write_deadline);
  } else {
    w = co_await writeAll(c.transport(), asio::buffer(ds_.upstream_head), c.writeTimer(),
                          write_deadline);
  }
  if (!w.ok()) {
    co_return Attempt{.failure = Failure::kReset,
                      .peer_closed = true,
                      .detail = "write to " + c.host().name + " failed: " + w.ec.message()};
  }
  if (mode_ == BodyMode::kStreamed) {
    // Only now that an upstream took the head does the client get to send its body.
    if (rq_.head->expect_continue && !rq_.sent_continue && !rq_.body.started() &&
        ds_.in.readableSize() == 0) {
      if (!co_await sendContinue(ds_, rq_)) co_return Attempt{.failure = Failure::kDownstream};
    }
    upload_running_ = true;
    upload_done_.reset();
    net::spawnDetached(ds_.transport.executor(), upload(c));
  }
  co_return Attempt{};
}

// Peeks at the client socket without consuming anything: end of stream (or an error) means the
// client gave up. Bytes (a pipelined request) mean nothing can be told any more without reading
// them, so the watch ends there. A peeking receive rather than a readiness wait: Asio re-arms
// epoll for every wait operation, which costs a system call per request; a receive first tries
// at once (one EAGAIN) and then waits on the registration the socket already has. A plain
// completion handler, not a coroutine: spawning one per request would allocate.
void UpstreamRequest::watchClient(UpstreamConnection& c) {
  watching_ = true;
  // The handler may run after this request is gone (a cancelled watch completes later); the
  // connection's watch generation tells it whether the watch it belongs to is still current.
  const uint64_t generation = ++*ds_.watch_generation;
  ds_.transport.peek(ds_.peek_byte, [current = ds_.watch_generation, generation, this, &c](
                                        const asio::error_code& ec, size_t n) {
    if (*current != generation) return;
    watching_ = false;
    if (ec || n == 0) {
      client_gone_ = true;
      cancelSocket(c.transport());  // wakes readResponseHead()
    }
  });
}

void UpstreamRequest::stopWatchingClient() {
  ++*ds_.watch_generation;
  if (!watching_) return;
  watching_ = false;
  // Nothing else is pending on it now, and the watch's handler would return at once (its
  // generation is over).
  ds_.transport.endPeek();
}

Clock::time_point UpstreamRequest::responseDeadline() const {
  Clock::time_point d = ds_.idleDeadline();
  if (deadline_) d = std::min(d, *deadline_);
  if (try_deadline_) d = std::min(d, *try_deadline_);
  return d;
}

void UpstreamRequest::rearmResponseTimer(UpstreamConnection& c) {
  if (!reading_upstream_) return;
  net::Transport& t = c.transport();
  c.readTimer().armAt(responseDeadline(), [&t] { t.cancel(); });
}

// The client's side of the upload failed: a malformed body is the client's error (400), anything
// else means the client went away.
UpstreamRequest::Attempt UpstreamRequest::uploadFailure() const {
  return Attempt{.failure = upload_error_ == BodyError::kMalformed ? Failure::kBadBody
                                                                   : Failure::kDownstream};
}

net::awaitable<UpstreamRequest::Attempt> UpstreamRequest::readResponseHead(UpstreamConnection& c) {
  const auto& limits = ds_.worker.options().response_limits;
  const size_t max_head = limits.max_request_line_bytes + limits.max_header_bytes + 4;
  while (true) {
    // An HTTP/2 stream's head comes parsed (upstream/h2_exchange.h).
    if (c.h2 && c.h2->head_ready && !c.parser().complete()) c.parser().setHead(c.h2->head);
    if (c.buffer().end() > 0 || c.parser().complete()) {
      const http::ParseStatus st = c.parser().feed(c.buffer().fromStart());
      if (st == http::ParseStatus::kError) {
        co_return Attempt{.failure = Failure::kProtocol,
                          .detail = std::string(c.parser().error().reason)};
      }
      if (st == http::ParseStatus::kHeadComplete) {
        const http::ResponseHead& head = c.parser().head();
        if (!head.interim) co_return Attempt{};
        // 1xx: the proxy made its own "100 Continue"; others go on to HTTP/1.1 clients.
        if (head.status != 100 && !rq_.http10()) {
          ds_.out.clear();
          http::ResponseEncoder& encoder = ds_.responseEncoder();
          encoder.beginHead(head.status, head.reason, ds_.out);
          for (const auto& h : head.headers) {
            if (!isHopByHopName(h.name)) encoder.header(h.name, h.value, ds_.out);
          }
          encoder.endHead(http::ResponseFraming{}, ds_.out);
          if (!co_await writeToClient(ds_, rq_, asio::buffer(ds_.out))) {
            co_return Attempt{.failure = Failure::kDownstream};
          }
        }
        c.buffer().consume(head.head_bytes);
        c.buffer().compact();
        c.parser().reset(rq_.head->method);
        continue;
      }
    }
    if (c.buffer().writableSize() == 0)
      c.buffer().grow(std::min(c.buffer().capacity() * 2, max_head + 1));
    // Before the read too: the upload may have failed before this read was started (a malformed
    // chunk that came with the head fails at once), when there was no read for its cancel to wake.
    if (upload_error_ != BodyError::kNone) co_return uploadFailure();
    reading_upstream_ = true;
    IoResult r;
    if (c.transport().inMemory()) {
      // An HTTP/2 stream: its head wait in this frame (runtime::PipeRead), not readSome()'s.
      PipeRead read(c.transport(), c.readTimer(), responseDeadline());
      while (read.waiting()) co_await read.next();
      r = read.finish(c.buffer());
    } else {
      r = co_await readSome(c.transport(), c.buffer(), c.readTimer(), responseDeadline());
    }
    reading_upstream_ = false;
    if (upload_error_ != BodyError::kNone) co_return uploadFailure();
    if (r.timed_out) {
      const auto now = Clock::now();
      if (try_deadline_ && now >= *try_deadline_)
        co_return Attempt{.failure = Failure::kPerTryTimeout};
      if (deadline_ && now >= *deadline_) co_return Attempt{.failure = Failure::kTimeout};
      co_return Attempt{.failure = Failure::kIdleTimeout};
    }
    if (!r.ok()) {
      const bool refused = c.h2 && c.h2->refused;
      co_return Attempt{
          .failure = Failure::kReset,
          .peer_closed = r.eof(),
          .response_bytes = c.buffer().end() > 0,
          .refused = refused,
          .detail = refused   ? "http2 stream refused by " + c.host().name
                    : r.eof() ? "connection closed by " + c.host().name
                              : "connection to " + c.host().name + " reset: " + r.ec.message()};
    }
  }
}

// Client -> upstream for a streamed body; runs beside readResponseHead()/relay().
net::awaitable<void> UpstreamRequest::upload(UpstreamConnection& c) {
  // An HTTP/2 stream takes the body unframed; one of unknown length ends with the stream.
  const bool chunked = rq_.body.kind() == http::BodyKind::kChunked && !c.h2;
  const bool end_stream = rq_.body.kind() == http::BodyKind::kChunked && c.h2;
  while (true) {
    const BodyRead r = co_await readRequestBody(ds_, rq_);
    if (r.error != BodyError::kNone) {
      upload_error_ = r.error;
      cancelSocket(c.transport());  // wakes the response side, which gives up on this request
      break;
    }
    if (r.data.empty()) {
      if (chunked) {
        const IoResult w = co_await writeAll(c.transport(), asio::buffer(http::kLastChunk),
                                             c.writeTimer(), ds_.idleDeadline());
        upload_upstream_failed_ = !w.ok();
      }
      if (end_stream) c.transport().shutdownSend();
      if (!upload_upstream_failed_) {
        // The request is complete: the route and per-try timeouts start now.
        const auto now = Clock::now();
        if (timeout_) deadline_ = now + *timeout_;
        if (action_.retry.per_try_timeout) try_deadline_ = now + *action_.retry.per_try_timeout;
        rearmResponseTimer(c);
      }
      break;
    }
    IoResult w;
    if (chunked) {
      const http::ChunkHeader size = http::chunkHeader(r.data.size());
      const std::array<asio::const_buffer, 3> parts = {asio::buffer(size.bytes.data(), size.size),
                                                       asio::buffer(r.data.data(), r.data.size()),
                                                       asio::buffer(http::kChunkEnd)};
      w = co_await writeAll(c.transport(), parts, c.writeTimer(), ds_.idleDeadline());
    } else {
      w = co_await writeAll(c.transport(), asio::buffer(r.data.data(), r.data.size()),
                            c.writeTimer(), ds_.idleDeadline());
    }
    if (!w.ok()) {
      // The upstream stopped reading; its response (or reset) tells the rest.
      upload_upstream_failed_ = true;
      break;
    }
  }
  upload_running_ = false;
  upload_done_.set();
}

net::awaitable<void> UpstreamRequest::stopUpload(UpstreamConnection& c) {
  if (!upload_running_) co_return;
  cancelSocket(ds_.transport);
  cancelSocket(c.transport());
  co_await upload_done_.wait();
  // The errors the cancellation itself caused are not the client's or the upstream's.
  upload_error_ = BodyError::kNone;
  upload_upstream_failed_ = false;
  rq_.close = true;  // the rest of the request body is still on the wire
}

std::string UpstreamRequest::plaintextToStrict() const {
  const tr::Endpoint* e = rq_.record.endpoint;
  if (!e || !e->requires_mtls || secure_) return {};
  const tr::Cluster& c = hosts_->cluster();
  std::string why = "; the destination requires mutual TLS (its PeerAuthentication is STRICT)";
  if (!c.tls_disabled_by.empty()) {
    why += " but " + c.tls_disabled_by + " sets tls mode DISABLE";
  } else {
    why += " but this proxy sent plaintext";
  }
  return why;
}

net::awaitable<void> UpstreamRequest::replyFailure(const Attempt& a, bool retries_exhausted) {
  telemetry::AccessLogEntry& log = rq_.record.log;
  if (upload_running_ || (mode_ == BodyMode::kStreamed && !rq_.body.done())) rq_.close = true;
  const std::string retries =
      retry_.retriesUsed() > 0 ? " after " + std::to_string(retry_.retriesUsed()) + " retries" : "";
  const std::string cluster = " (cluster " + destination_->cluster + ")";
  if (retries_exhausted) log.response_flags.set(ResponseFlag::kUpstreamRetryLimitExceeded);
  switch (a.failure) {
    case Failure::kNone:
    case Failure::kDownstream:
      log.response_flags.set(ResponseFlag::kDownstreamConnectionTermination);
      rq_.close = true;
      co_return;
    case Failure::kConnect:
      if (hosts_->cluster().tls) {
        rq_.transport_failure = a.detail;
        log.upstream_transport_failure_reason = rq_.transport_failure;
      }
      rq_.reason = "upstream connect error: " + a.detail + retries + cluster + plaintextToStrict();
      co_return co_await fail(503, ResponseFlag::kUpstreamConnectionFailure,
                              "upstream_reset_before_response_started{connection_failure}");
    case Failure::kReset:
      rq_.reason =
          "upstream reset before response: " + a.detail + retries + cluster + plaintextToStrict();
      co_return co_await fail(503,
                              a.peer_closed ? ResponseFlag::kUpstreamConnectionTermination
                                            : ResponseFlag::kUpstreamRemoteReset,
                              a.peer_closed
                                  ? "upstream_reset_before_response_started{connection_termination}"
                                  : "upstream_reset_before_response_started{remote_reset}");
    case Failure::kTimeout:
      rq_.record.upstream_timeout = true;
      if (grpc_timeout_) {
        // The client's own deadline (grpc-timeout) passed: gRPC's DEADLINE_EXCEEDED, as Envoy
        // answers when the header's stream duration is reached.
        rq_.reason = "gRPC deadline of " + std::to_string(timeout_->count()) +
                     " ms (grpc-timeout) exceeded (route " +
                     std::string(router::routeOrigin(route_)) + ")" + retries;
        rq_.reply_headers.emplace_back("grpc-status", "4");
        log.response_flags.set(ResponseFlag::kUpstreamRequestTimeout);
        log.response_code_details = "response_timeout";
        co_return co_await sendLocalReply(
            ds_, rq_,
            LocalReply{.status = 504, .reason = rq_.reason, .headers = rq_.reply_headers});
      }
      rq_.reason = "upstream request timeout after " +
                   std::to_string(action_.timeout ? action_.timeout->count() : 0) + " ms (route " +
                   std::string(router::routeOrigin(route_)) + ")" + retries;
      co_return co_await fail(504, ResponseFlag::kUpstreamRequestTimeout, "response_timeout");
    case Failure::kPerTryTimeout:
      rq_.record.upstream_timeout = true;
      rq_.reason = "upstream per-try timeout after " +
                   std::to_string(
                       action_.retry.per_try_timeout ? action_.retry.per_try_timeout->count() : 0) +
                   " ms (route " + std::string(router::routeOrigin(route_)) + ")" + retries;
      co_return co_await fail(504, ResponseFlag::kUpstreamRequestTimeout,
                              "upstream_per_try_timeout");
    case Failure::kIdleTimeout:
      rq_.reason = "upstream sent nothing for " +
                   std::to_string(ds_.worker.options().idle_timeout.count()) + " ms" + cluster;
      co_return co_await fail(504, ResponseFlag::kStreamIdleTimeout, "stream_idle_timeout");
    case Failure::kBadBody:
      rq_.close = true;
      rq_.reason = "malformed request body: " + std::string(rq_.body.decoder().error().reason);
      co_return co_await fail(400, ResponseFlag::kDownstreamProtocolError, "http1.codec_error");
    case Failure::kOverflow:
      rq_.reason = a.detail;
      co_return co_await fail(503, ResponseFlag::kUpstreamOverflow,
                              "upstream_reset_before_response_started{overflow}");
    case Failure::kProtocol:
      rq_.reason = "invalid response from upstream " + std::string(rq_.record.log.upstream_host) +
                   ": " + a.detail + cluster;
      co_return co_await fail(502, ResponseFlag::kUpstreamProtocolError, "upstream_protocol_error");
  }
}

net::awaitable<void> UpstreamRequest::relay(std::unique_ptr<UpstreamConnection> c) {
  telemetry::AccessLogEntry& log = rq_.record.log;
  const http::ResponseHead& head = c->parser().head();
  const uint16_t status = head.status;
  const auto service_time =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - attempt_start_);
  log.upstream_service_time = service_time;
  log.response_code = status;
  log.response_code_details = "via_upstream";

  if (head.tunnel && !rq_.head->upgrade) {
    co_await stopUpload(*c);
    rq_.reason = "upstream " + c->host().name + " switched protocols without being asked to";
    co_return co_await fail(502, ResponseFlag::kUpstreamProtocolError, "upstream_protocol_error");
  }

  // How the body reaches the client. HTTP/1.0 clients cannot take chunked: their body ends with
  // the connection.
  http::ResponseFraming framing;
  switch (head.framing.kind) {
    case http::BodyKind::kNone:
      // HEAD and 304 keep the length of the representation they describe.
      if (rq_.isHead() || status == 304) {
        framing.described_length = findHeader(head.headers, "content-length").value_or("");
      }
      break;
    case http::BodyKind::kContentLength:
      framing.body = http::BodyKind::kContentLength;
      framing.content_length = head.framing.content_length;
      break;
    case http::BodyKind::kChunked:
    case http::BodyKind::kUntilClose:
      framing.body = rq_.http10() ? http::BodyKind::kUntilClose : http::BodyKind::kChunked;
      break;
  }
  if (head.tunnel) framing = http::ResponseFraming{.upgrade = head.upgrade_protocol};
  if (framing.body == http::BodyKind::kUntilClose || head.tunnel || ds_.worker.draining()) {
    rq_.close = true;
  }
  framing.close = rq_.close && !head.tunnel;
  framing.http10_keep_alive = rq_.http10() && !rq_.close;

  std::string& out = ds_.out;
  out.clear();
  http::ResponseEncoder& encoder = ds_.responseEncoder();
  encoder.beginHead(status, head.reason, out);
  const bool extra_options = hasExtraConnectionOptions(head.headers);
  auto& headers = ds_.headers;
  headers.clear();
  const auto& from_authorizer = rq_.ext_authz_response_headers;
  for (const auto& h : head.headers) {
    if (mustDrop(head.headers, h.name, extra_options)) continue;
    // headersToDownstreamOnAllow replaces what the upstream said (CUSTOM AuthorizationPolicy).
    if (rq_.ext_authz_ran && !from_authorizer.empty() &&
        std::any_of(from_authorizer.begin(), from_authorizer.end(),
                    [&h](const auto& e) { return e.first == h.name; })) {
      continue;
    }
    headers.push_back(h);
  }
  for (const auto& [n, v] : from_authorizer) headers.push_back({n, v});
  const Digits svc = digits(static_cast<uint64_t>(service_time.count()));
  headers.push_back({"x-envoy-upstream-service-time", svc.view()});
  if (rq_.cors.origin_allowed) {
    for (const auto& [n, v] : rq_.cors.response_headers) headers.push_back({n, v});
  }
  if (!set_cookie_.empty()) headers.push_back({"set-cookie", set_cookie_});
  router::applyHeaderOps(
      headers, {&route_.response_headers, &destination_->response_headers},
      [&](std::string_view name, std::string_view value) { encoder.header(name, value, out); });
  encoder.endHead(framing, out);

  net::ByteBuffer& buffer = c->buffer();
  buffer.consume(head.head_bytes);
  BodyReader body;
  body.start(head.framing, 0);

  // The head, with whatever body bytes came with it when the length is known.
  const std::string_view first = framing.body == http::BodyKind::kContentLength
                                     ? body.takeBuffered(buffer)
                                     : std::string_view();
  // The body did not come with the head: an upstream with Nagle on (Python's http.server, many
  // small servers) holds its second write until the head is ACKed, and on a pooled connection
  // the kernel delays that ACK by up to 40 ms. ACK now. (An HTTP/2 stream has no socket of its
  // own: the shared session's reads ACK promptly, and the call would only fail.)
  if (!body.done() && !c->transport().inMemory()) net::ackNow(c->socket());
  const std::array<asio::const_buffer, 2> head_parts = {asio::buffer(out),
                                                        asio::buffer(first.data(), first.size())};
  bool head_written;
  if (clientWritesAtOnce(ds_, asio::buffer_size(head_parts))) {
    head_written = writeToClientNow(ds_, rq_, head_parts);
  } else {
    head_written = co_await writeToClient(ds_, rq_, head_parts);
  }
  if (!head_written) {
    co_await stopUpload(*c);
    net::closeQuietly(c->socket());
    co_return;
  }

  if (head.tunnel) {
    co_await stopUpload(*c);
    rq_.tunnel_bytes_received = co_await runTunnel(ds_, rq_, *c);
    net::closeQuietly(c->socket());
    co_return;
  }

  bool upstream_ok = true;
  while (!body.done()) {
    Clock::time_point deadline = ds_.idleDeadline();
    if (deadline_) deadline = std::min(deadline, *deadline_);
    reading_upstream_ = true;
    BodyRead r;
    if (!body.nextNow(c->transport(), buffer, r)) {
      r = co_await body.next(c->transport(), buffer, c->readTimer(), deadline);
    }
    reading_upstream_ = false;
    if (r.error != BodyError::kNone) {
      // The response already started: all that is left is to cut the client off too.
      upstream_ok = false;
      rq_.close = true;
      if (r.error == BodyError::kTimeout) {
        const bool route_timeout = deadline_ && Clock::now() >= *deadline_;
        log.response_flags.set(route_timeout ? ResponseFlag::kUpstreamRequestTimeout
                                             : ResponseFlag::kStreamIdleTimeout);
        rq_.record.upstream_timeout = route_timeout;
      } else if (r.error == BodyError::kMalformed) {
        log.response_flags.set(ResponseFlag::kUpstreamProtocolError);
      } else if (upload_error_ == BodyError::kMalformed) {
        log.response_flags.set(ResponseFlag::kDownstreamProtocolError);
      } else if (upload_error_ != BodyError::kNone) {
        log.response_flags.set(ResponseFlag::kDownstreamConnectionTermination);
      } else {
        log.response_flags.set(ResponseFlag::kUpstreamConnectionTermination);
      }
      break;
    }
    if (r.data.empty()) break;
    const http::DataFrame frame = encoder.data(r.data.size());
    const std::array<asio::const_buffer, 3> parts = {
        asio::buffer(frame.prefix.data(), frame.prefix.size()),
        asio::buffer(r.data.data(), r.data.size()),
        asio::buffer(frame.suffix.data(), frame.suffix.size())};
    bool written;
    if (clientWritesAtOnce(ds_, asio::buffer_size(parts))) {
      written = writeToClientNow(ds_, rq_, parts);
    } else {
      written = co_await writeToClient(ds_, rq_, parts);
    }
    if (!written) {
      upstream_ok = false;
      break;
    }
  }
  // HTTP/2 upstreams hand their trailers over beside the body (gRPC's status travels there).
  if (c->h2 && upstream_ok && body.done()) {
    for (const auto& [name, value] : c->h2->trailers) encoder.trailer(name, value);
  }
  if (const std::string_view end = encoder.end(); upstream_ok && body.done() && !end.empty()) {
    upstream_ok = co_await writeToClient(ds_, rq_, asio::buffer(end.data(), end.size()));
  }

  // A response that is complete while the client is still sending: the upstream will not read
  // the rest, so neither connection can carry another request.
  if (upload_running_) {
    co_await stopUpload(*c);
    upstream_ok = false;
  }
  if (upload_upstream_failed_ || upload_error_ != BodyError::kNone) {
    upstream_ok = false;
    rq_.close = true;
  }
  if (mode_ == BodyMode::kStreamed && !rq_.body.done()) rq_.close = true;
  if (upstream_ok && body.done() && head.keep_alive && buffer.readableSize() == 0) {
    ds_.worker.pool().release(std::move(c), &hosts_->cluster().pool);
  } else if (c->h2) {
    // A stream of a shared HTTP/2 connection: its connection object serves the next stream.
    upstream::releaseH2Stream(std::move(c));
  } else {
    net::closeQuietly(c->socket());
  }
}

}  // namespace halyard::proxy::runtime
