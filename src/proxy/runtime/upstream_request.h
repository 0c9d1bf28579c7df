// Forwards one request to its route's destination and relays the response: weighted cluster
// pick, host selection, pooled or new connection, the request head with its rewrites and header
// operations, the body (buffered for replay when small, streamed otherwise), retries with
// backoff on other hosts, route and per-try timeouts, mirrors, and the response back to the
// client (streamed, re-framed for the client, with the response header operations). Failures
// become local replies with Envoy's response flags (NC, UH, UF, URX, UR, UC, UT, UPE).
//
// Streaming: the request body flows client -> upstream in a second coroutine (upload) while
// this one waits for and relays the response, so an upstream that answers before reading the
// whole body, or that streams its answer while reading, never deadlocks with the proxy. Each
// direction holds at most one buffer; a write must finish before the next read, which is the
// backpressure that keeps a multi-gigabyte body in bounded memory.
//
// A client that closes its connection while the proxy waits for the upstream's answer ends the
// exchange (DC) instead of holding the upstream connection until a timeout.
//
// Retries never happen once a response byte went to the client or once a streamed body byte left
// the client's socket: only requests without a body, or with a small body kept in memory, are
// replayed (upstream connect failures happen before the body is read, so those retry always).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/http/field_block.h"
#include "proxy/net/async_event.h"
#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/request_state.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/retry_state.h"
#include "proxy/upstream/upstream_connection.h"

namespace halyard::proxy::runtime {

class UpstreamRequest {
 public:
  UpstreamRequest(Downstream& ds, RequestState& rq, const translate::Route& route,
                  const translate::ForwardAction& action);

  net::awaitable<void> run();

 private:
  enum class BodyMode : uint8_t { kNone, kBuffered, kStreamed };
  enum class Failure : uint8_t {
    kNone,
    kConnect,        // UF
    kReset,          // UC (closed) or UR (reset)
    kTimeout,        // route timeout: UT
    kPerTryTimeout,  // UT, retriable
    kIdleTimeout,    // no upstream byte for the idle timeout: SI
    kProtocol,       // unparseable response: 502 UPE
    kDownstream,     // the client went away: DC, nothing to answer
    kBadBody,        // the client's chunked body is malformed: 400 DPE
    kOverflow,       // a connectionPool limit (circuit breaker) refused it: 503 UO
  };
  struct Attempt {
    Failure failure = Failure::kNone;
    bool peer_closed = false;      // kReset: a clean close rather than a reset
    bool response_bytes = false;   // kReset: part of a response had arrived
    bool refused = false;          // kReset: an HTTP/2 upstream refused the stream, never processed
    bool connect_timeout = false;  // kConnect: the connect timed out (rather than failed)
    std::string detail;
    std::unique_ptr<upstream::UpstreamConnection> connection;  // kNone: the response head parsed
  };

  net::awaitable<bool> bufferBody();
  bool buildHead();
  void startMirrors();
  net::awaitable<Attempt> attempt(upstream::UpstreamHost& host);
  // A new connection to `host` under the cluster's maxConnections: at once when a slot is free,
  // else after waiting as one of at most http1MaxPendingRequests for a slot or an idle
  // connection; kOverflow when the pending requests are full too.
  net::awaitable<Attempt> connectWithinLimits(upstream::UpstreamHost& host,
                                              const upstream::TransportSettings& transport,
                                              std::unique_ptr<upstream::UpstreamConnection>& out);
  upstream::UpstreamHost* originalDestination();
  // Feeds outlier detection with an attempt's outcome.
  void reportOutcome(upstream::UpstreamHost& host, const Attempt& a);
  // An exchange on `c` in steps, so that the ones that never wait take no coroutine frame:
  // startExchange() readies the parser and the attempt's deadlines and starts an HTTP/2 stream's
  // head; sendRequest(), when sendsMore(), writes the rest (an HTTP/1.1 head, a buffered body)
  // and starts a streamed body's upload; then readResponseHead().
  Attempt startExchange(upstream::UpstreamConnection& c);
  bool sendsMore(const upstream::UpstreamConnection& c) const;
  net::awaitable<Attempt> sendRequest(upstream::UpstreamConnection& c);
  net::awaitable<Attempt> readResponseHead(upstream::UpstreamConnection& c);
  Attempt uploadFailure() const;
  void watchClient(upstream::UpstreamConnection& c);
  void stopWatchingClient();
  net::awaitable<void> upload(upstream::UpstreamConnection& c);
  net::awaitable<void> stopUpload(upstream::UpstreamConnection& c);
  net::awaitable<void> relay(std::unique_ptr<upstream::UpstreamConnection> c);
  net::awaitable<void> fail(uint16_t status, telemetry::ResponseFlag flag,
                            std::string_view details);
  net::awaitable<void> replyFailure(const Attempt& a, bool retries_exhausted);
  // The end of a failure's reason when plaintext went to an endpoint whose PeerAuthentication
  // is STRICT (a DestinationRule tls DISABLE, usually): "" otherwise.
  std::string plaintextToStrict() const;
  void rearmResponseTimer(upstream::UpstreamConnection& c);
  Clock::time_point responseDeadline() const;
  bool replayable() const;
  std::string_view clusterName() const { return destination_->cluster; }

  Downstream& ds_;
  RequestState& rq_;
  const translate::Route& route_;
  const translate::ForwardAction& action_;
  const translate::WeightedCluster* destination_ = nullptr;
  upstream::ClusterHosts* hosts_ = nullptr;
  upstream::RetryState retry_;
  BodyMode mode_ = BodyMode::kNone;
  std::string_view body_;  // kBuffered: the whole request body
  // The destination speaks HTTP/2: the head goes as this field list (buildHead()).
  bool h2_ = false;
  http::FieldBlock h2_head_;
  std::optional<std::string> rewritten_path_;
  std::string_view upstream_host_;  // the Host sent upstream, without port: TLS's default SNI
  // The route timeout runs from the end of the request; the per-try timeout from the start of
  // an attempt (or the end of a streamed body).
  std::optional<Clock::time_point> deadline_;
  // The route timeout, or the client's grpc-timeout when that is shorter (grpc_timeout_).
  std::optional<translate::Millis> timeout_;
  bool grpc_timeout_ = false;
  std::optional<Clock::time_point> try_deadline_;
  Clock::time_point attempt_start_{};
  bool reading_upstream_ = false;  // a read of the upstream socket is pending (timer re-arming)
  // While the response head is awaited (no upload running), a peek at the client socket notices
  // a client that hangs up, so its upstream exchange is abandoned at once.
  bool watching_ = false;  // the peek is pending
  bool client_gone_ = false;
  bool secure_ = false;  // the last attempt's connection was TLS
  // consistentHash: the request's key hashed (none: pick as if unhashed), and the Set-Cookie
  // to add to the response when the cookie was made up here.
  std::optional<uint64_t> hash_;
  std::shared_ptr<upstream::UpstreamHost> passthrough_;  // PASSTHROUGH's host, kept alive
  std::string set_cookie_;
  // The streamed upload.
  net::AsyncEvent upload_done_;
  bool upload_running_ = false;
  BodyError upload_error_ = BodyError::kNone;  // the client side of the upload failed
  bool upload_upstream_failed_ = false;
};

}  // namespace halyard::proxy::runtime
