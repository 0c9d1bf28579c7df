// The HTTP/1.1 connection manager of one client connection: sets up its transport (the TLS
// handshake on HTTPS listeners), reads request heads (with the request-header and idle
// timeouts), runs the request phases (request_phases.h) against the snapshot the request
// started with, then answers locally or forwards, and answers pipelined requests strictly in
// order, one at a time. Malformed or ambiguous input is answered
// with the codec's status and the connection closes: framing after a bad head cannot be
// trusted.
#pragma once

#include <asio/ip/tcp.hpp>
#include <memory>
#include <optional>

#include "common/local_shared.h"
#include "proxy/http/h2_response_encoder.h"
#include "proxy/http/h2_stream_request.h"
#include "proxy/http/path_normalizer.h"
#include "proxy/net/awaitable.h"
#include "proxy/runtime/connect_tunnel.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/local_reply.h"
#include "proxy/runtime/request_state.h"
#include "proxy/runtime/upstream_request.h"

namespace halyard::proxy::runtime {

class Worker;

class DownstreamConnection {
 public:
  DownstreamConnection(Worker& worker, asio::ip::tcp::socket socket,
                       std::shared_ptr<const ListenerInfo> listener);
  // One stream of an HTTP/2 connection (runtime/h2_connection.h), served as one request: the
  // same phases and upstream path as any request. Its head comes parsed (`head`, with the
  // framing the driver chose for its body), not as bytes; its body bytes arrive unframed over
  // `pipe`, an in-memory pipe whose other end the HTTP/2 driver holds. The client's facts
  // (addresses, TLS, peer identity) come from `connection`; the response head and trailers go
  // to `encoder`, the response body back through the pipe.
  DownstreamConnection(Worker& worker, common::LocalShared<net::MemoryPipe> pipe,
                       std::shared_ptr<const ListenerInfo> listener, const Downstream& connection,
                       common::LocalShared<http::H2ResponseEncoder> encoder,
                       http::H2RequestHead&& head, const http::BodyFraming& framing,
                       common::LocalShared<const http::Fields> trailers);
  ~DownstreamConnection();
  // Sets the object up for a stream: its head, body framing, pipe, encoder and trailers. The
  // stream constructor calls it, and so does the HTTP/2 connection when a finished stream's
  // object serves its next stream (runtime/h2_connection.h keeps them): the client's facts stay,
  // everything of the stream is replaced, and nothing is made again (buffers, timers, scratch,
  // the request state's capacity).
  void startStream(common::LocalShared<net::MemoryPipe> pipe,
                   common::LocalShared<http::H2ResponseEncoder> encoder, http::H2RequestHead&& head,
                   const http::BodyFraming& framing,
                   common::LocalShared<const http::Fields> trailers);
  // Lets go of what a finished stream holds (its snapshot, pipe, encoder, upstream request)
  // while it waits to be reused.
  void releaseStream();
  DownstreamConnection(const DownstreamConnection&) = delete;
  DownstreamConnection& operator=(const DownstreamConnection&) = delete;

  // Serves the connection until it closes; `self` keeps it alive meanwhile.
  static net::awaitable<void> run(common::LocalShared<DownstreamConnection> self);
  // What serves a stream of an HTTP/2 connection (its one request, the head already parsed).
  static net::awaitable<void> runStream(common::LocalShared<DownstreamConnection> self);

  // Drain: an idle keep-alive connection closes now; a busy one after its current response.
  void onDrain();

 private:
  enum class HeadStatus { kComplete, kClosed, kTimeout, kError };

  // Connection setup, before any request: on a TLS listener, the ClientHello's SNI picks the
  // Gateway server (its certificate, versions, client verification) and the handshake runs
  // within the request-header timeout. False: the connection is to be closed, unanswered.
  net::awaitable<bool> setUpTransport();
  // Waits for the first byte: true when it starts a TLS handshake; nullopt when the connection
  // closed, timed out or the proxy drains first.
  net::awaitable<std::optional<bool>> startsWithTls();
  // Reads the first bytes (kept in the buffer) far enough to tell HTTP/2's connection preface
  // from an HTTP/1.1 request line.
  // nullopt: the connection ended (or timed out, or the proxy drains) before a byte told.
  net::awaitable<std::optional<bool>> startsWithH2Preface();
  net::awaitable<HeadStatus> readHead();
  // The request just read asks to go on as HTTP/2 (Upgrade: h2c, RFC 7540 §3.2) and may: a
  // plaintext connection, no body, valid HTTP2-Settings (decoded into `settings`).
  bool wantsH2cUpgrade(std::string& settings);
  // Answers 101 and serves the connection as HTTP/2, the request as its stream 1.
  net::awaitable<void> upgradeToH2c(std::string settings);
  // One request. `self`, for a stream only (runStream): the connection kept alive meanwhile, and
  // its side of the stream's pipe closed at the end.
  net::awaitable<void> serve(common::LocalShared<DownstreamConnection> self = nullptr);
  // Answers a request that could not be parsed (or arrived too slowly) and ends the connection.
  net::awaitable<void> rejectHead(uint16_t status, std::string_view reason,
                                  telemetry::ResponseFlag flag, std::string_view details);
  void reportRequest();
  void startTrace(RequestState& rq);
  // The route table of this request: the listener's own (looked up once per snapshot), or for
  // the outbound proxy listener the destination port's, per request.
  const ListenerRoutes* listenerRoutes();
  // The accepting listener's own routes in the request's snapshot (cached per generation).
  const ListenerRoutes* ownRoutes();
  http::PathNormalization pathNormalization();
  // kInbound: the caller's identity from x-halyard-peer, for the metrics.
  void readPeer();

  Downstream ds_;
  RequestState rq_;
  // The forwarding state of the current request. A member rather than a local of serve(): it is
  // large, and Asio recycles only small coroutine frames, so a local would cost an allocation
  // per request.
  std::optional<UpstreamRequest> upstream_;
  bool first_request_ = true;
  bool waiting_ = false;         // no byte of a request received yet: safe to close on drain
  bool http2_ = false;           // served by the HTTP/2 driver (h2_connection.h)
  bool tunnel_checked_ = false;  // the start of a CONNECT tunnel was checked for HTTP/2
  // The generation of the last snapshot seen and its routes for this listener, so the lookup
  // runs once per reload (0: none yet).
  uint64_t routes_generation_ = 0;
  const ListenerRoutes* routes_ = nullptr;
  // After a CONNECT to a mesh service on the outbound proxy listener: the connection is that
  // service's tunnel, and its requests use this port's routes whatever their Host says.
  std::optional<uint16_t> tunnel_port_;
  ConnectLogStorage connect_log_;

  // Set for a stream of an HTTP/2 connection: its encoder, kept alive with the connection.
  common::LocalShared<http::H2ResponseEncoder> stream_encoder_;
  bool stream_ = false;  // serves streams of an HTTP/2 connection, not a connection of its own
  // A stream's request head, as HTTP/2 delivered it (used when stream_encoder_ is set).
  http::H2StreamRequest stream_request_;
};

}  // namespace halyard::proxy::runtime
