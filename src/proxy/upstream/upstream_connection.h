// One HTTP/1.1 connection to an upstream host: the transport (TCP, or TLS over it), the buffer
// responses are read into, and the response parser. Carries one request at a time; between requests
// it waits in its host's idle list.
#pragma once

#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/local_shared.h"
#include "proxy/http/h1_response_parser.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/op_timer.h"
#include "proxy/net/transport.h"
#include "proxy/upstream/h2_exchange.h"

namespace halyard::proxy::upstream {

struct UpstreamHost;
class ClusterState;

class UpstreamConnection {
 public:
  static constexpr size_t kInitialBuffer = 16 * 1024;

  // `buffer`: what the read buffer starts with (an HTTP/2 stream's is small:
  // net::ByteBuffer::kStreamSize).
  UpstreamConnection(const asio::any_io_executor& executor, UpstreamHost& host,
                     size_t buffer = kInitialBuffer);
  ~UpstreamConnection();
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  net::Transport& transport() { return transport_; }
  asio::ip::tcp::socket& socket() { return transport_.socket(); }
  net::ByteBuffer& buffer() { return buffer_; }
  http::ResponseParser& parser() { return parser_; }
  net::OpTimer& readTimer() { return read_timer_; }
  net::OpTimer& writeTimer() { return write_timer_; }
  UpstreamHost& host() { return *host_; }
  // The transport settings it was made with (TransportSettings::key); 0 for plaintext.
  uint64_t transportKey() const { return transport_key_; }
  void setTransportKey(uint64_t key) { transport_key_ = key; }
  // The SPIFFE ID of the upstream's certificate (mesh mutual TLS), read once at the handshake.
  const std::string& peerPrincipal() const { return peer_principal_; }
  void setPeerPrincipal(std::string principal) { peer_principal_ = std::move(principal); }

  // Served at least one request before: a failure before any response byte may just be the
  // upstream closing an idle connection at the moment it was reused.
  bool reused() const { return requests_ > 0; }
  void countRequest() { ++requests_; }
  size_t requests() const { return requests_; }

  // Takes over one unit of `state`'s open connections (connectionPool maxConnections), which
  // the caller reserved before connecting; given back when the connection is destroyed.
  void adoptCount(std::shared_ptr<ClusterState> state);
  ClusterState* countedIn() const { return counted_.get(); }
  std::chrono::steady_clock::time_point createdAt() const { return created_at_; }

  std::chrono::steady_clock::time_point idleSince() const { return idle_since_; }

  // A stream of a shared HTTP/2 connection (upstream/h2_session.h): its response head and
  // trailers as fields; null for HTTP/1.1 connections.
  common::LocalShared<H2Exchange> h2;
  // A finished HTTP/2 stream's connection taken over by the next stream on the same shared
  // connection: a new pipe and exchange, the count of requests back to none (a new stream is
  // never a reused connection), nothing armed.
  void reuseForStream(common::LocalShared<net::MemoryPipe> pipe,
                      common::LocalShared<H2Exchange> exchange);
  void markIdle() { idle_since_ = std::chrono::steady_clock::now(); }

 private:
  net::Transport transport_;
  net::ByteBuffer buffer_;
  http::ResponseParser parser_;
  net::OpTimer read_timer_;
  net::OpTimer write_timer_;
  UpstreamHost* host_;
  size_t requests_ = 0;
  uint64_t transport_key_ = 0;
  std::string peer_principal_;
  std::chrono::steady_clock::time_point idle_since_{};
  std::chrono::steady_clock::time_point created_at_ = std::chrono::steady_clock::now();
  std::shared_ptr<ClusterState> counted_;
};

}  // namespace halyard::proxy::upstream
