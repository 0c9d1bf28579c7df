// HTTP/2 to upstream hosts: one connection per host (and transport settings) carries many
// requests at once, as streams. The request path keeps speaking HTTP/1.1 to what it gets back
// from openH2Stream(): an UpstreamConnection over a local socket pair, whose other end this
// module turns into an HTTP/2 stream on the shared connection (request head to HEADERS, body to
// DATA; response HEADERS to an HTTP/1.1 head, DATA to chunks, trailers handed over on the side
// through UpstreamConnection::h2_trailers, since HTTP/1.1 chunked trailers are not relayed).
// Retries, timeouts, load balancing and the response relay are therefore the HTTP/1.1 ones.
//
// Flow control: a stream's response DATA is returned to the server's window only once it went
// into the pair, and the pair's buffers are small, so a slow client stops the upstream stream
// (and only it) after one window.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <memory>

#include "common/error.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/upstream_connection.h"
#include "proxy/upstream/upstream_host.h"

namespace halyard::proxy::upstream {

// A stream to `host` over a shared HTTP/2 connection, made first (TCP, TLS with ALPN h2 when
// `settings` has TLS, within `timeout`) when none with room exists. Fails as
// ConnectionPool::connect does.
asio::awaitable<common::Expected<std::unique_ptr<UpstreamConnection>>> openH2Stream(
    ConnectionPool& pool, UpstreamHost& host, std::chrono::milliseconds timeout,
    const TransportSettings& settings);

// Open HTTP/2 connections to `host` (their streams in flight and idle), for tests and dumps.
size_t h2ConnectionCount(const UpstreamHost& host);

}  // namespace halyard::proxy::upstream
