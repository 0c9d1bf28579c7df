// The state of one downstream (client) connection that every part of the request path works
// with: the transport, the buffer the request heads and bodies are read into, timers, and the
// reusable scratch storage that keeps the steady state free of allocations. A plain struct: the
// connection manager, the upstream request, the response relay and the tunnel all read and
// write it, on the connection's worker thread only.
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/local_shared.h"
#include "proxy/http/h1_request_parser.h"
#include "proxy/http/h1_response_encoder.h"
#include "proxy/http/request_view.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/op_timer.h"
#include "proxy/runtime/io_ops.h"
#include "proxy/runtime/listener_info.h"

namespace halyard::proxy::runtime {

class Worker;

struct Downstream {
  static constexpr size_t kInitialBuffer = 16 * 1024;
  // After a head, at least this much buffer stays free for streaming its body.
  static constexpr size_t kMinBodyWindow = 8 * 1024;
  // The scratch header list starts with room for this many (it grows for more, once per
  // connection).
  static constexpr size_t kUsualHeaders = 24;

  // `buffer`: what the input buffer starts with (an HTTP/2 stream's is small:
  // net::ByteBuffer::kStreamSize).
  Downstream(Worker& worker, asio::ip::tcp::socket socket,
             std::shared_ptr<const ListenerInfo> listener, size_t buffer = kInitialBuffer);

  asio::ip::tcp::socket& socket() { return transport.socket(); }

  Clock::time_point idleDeadline() const;

  Worker& worker;
  net::Transport transport;  // TCP, or TLS over it once the connection setup chose a server
  std::shared_ptr<const ListenerInfo> listener;
  net::ByteBuffer in;
  http::RequestParser parser;
  // The codec's response half: every response to this client (relayed or local) is encoded
  // through it.
  http::H1ResponseEncoder encoder;
  // The encoder responses go through: `encoder`, or for a stream of an HTTP/2 connection, that
  // stream's (runtime/h2_connection.h).
  http::ResponseEncoder* response_encoder = &encoder;
  http::ResponseEncoder& responseEncoder() { return *response_encoder; }
  net::OpTimer read_timer;    // reads: heads, and bodies in the upload direction
  net::OpTimer write_timer;   // writes: responses
  asio::steady_timer timer;   // waits: fault delays, retry backoff
  std::string out;            // response heads and local replies
  std::string upstream_head;  // the request head sent upstream
  std::string forwarded_for;  // this request's x-forwarded-for value
  std::string replay_body;  // a small request body kept for retries, when it was not buffered whole
  std::vector<http::HeaderView> headers;  // scratch header list
  // The client watch of UpstreamRequest (a peek while the response is awaited): its generation
  // outlives the request, so a late completion can tell it is stale.
  common::LocalShared<uint64_t> watch_generation = common::makeLocalShared<uint64_t>(0);
  char peek_byte = 0;
  std::string remote_ip;        // "10.0.0.1", for x-forwarded-for
  std::string remote_endpoint;  // "10.0.0.1:53211", for access logs
  std::string local_endpoint;
  // Mesh mutual TLS on an inbound listener: the client's SPIFFE ID and the SHA-256 of its
  // certificate (x-forwarded-client-cert), from the handshake; empty on plaintext connections.
  std::string peer_principal;
  std::string peer_certificate_hash;
  // The proxy's own SPIFFE ID when the connection is mutual TLS (the TLS contexts' copy).
  std::string own_principal;
  // "By=<own>;Hash=<peer certificate SHA-256>;Subject=\"\";URI=<peer>", as Istio's sidecars set
  // x-forwarded-client-cert for the app; empty on plaintext.
  std::string forwarded_client_cert;
  bool mutual_tls() const { return !peer_principal.empty(); }
  // A stream of an HTTP/2 connection is served over an in-memory pipe: the SNI of the client's
  // TLS connection and the protocol for the access log come from the connection.
  std::string stream_sni;
  std::string_view stream_protocol;
  // A stream's request trailers (filled in by the HTTP/2 driver before the body's end), for an
  // HTTP/2 upstream; null when the request cannot have any.
  common::LocalShared<const std::vector<std::pair<std::string, std::string>>> request_trailers;
  // HTTP/2 inside a CONNECT tunnel to a mesh service: that service port, for its streams.
  uint16_t stream_tunnel_port = 0;
  // The client sent nothing within the inbound listener's protocol detection timeout before the
  // TLS sniff (tcp_proxy.h silentBeforeTlsSniff): the protocol sniff need not wait again.
  bool stayed_silent = false;
  std::string_view sni() const { return transport.secure() ? transport.sni() : stream_sni; }
};

}  // namespace halyard::proxy::runtime
