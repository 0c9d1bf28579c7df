// HTTP/2 to upstream hosts: one connection per host (and transport settings) carries many
// requests at once, as streams. openH2Stream() gives the request path an UpstreamConnection over
// a net::MemoryPipe whose other end is a stream on the shared connection. The request path
// starts it with its head as fields (startH2Request), writes the body unframed into the pipe,
// and gets the response head parsed (upstream/h2_exchange.h), the body unframed out of the pipe
// and the trailers beside it: no HTTP/1.1 text either way. Retries, timeouts, load balancing and
// the response relay are therefore the same as for HTTP/1.1 upstreams; mirrors use the same
// calls.
//
// Flow control: a stream's response DATA is returned to the server's window only once the
// request path read it from the pipe, so a slow client stops the upstream stream (and only it)
// after one window.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <memory>

#include "common/error.h"
#include "common/local_shared.h"
#include "proxy/http/field_block.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/h2_exchange.h"
#include "proxy/upstream/upstream_connection.h"
#include "proxy/upstream/upstream_host.h"

namespace halyard::proxy::upstream {

// A stream to `host` over a shared HTTP/2 connection, made first (TCP, TLS with ALPN h2 when
// `settings` has TLS, within `timeout`) when none with room exists. Fails as
// ConnectionPool::connect does. `connected`, when given, is set when this call made (or tried to
// make) a new connection: what the cluster's connection counters count, not its streams.
asio::awaitable<common::Expected<std::unique_ptr<UpstreamConnection>>> openH2Stream(
    ConnectionPool& pool, UpstreamHost& host, std::chrono::milliseconds timeout,
    const TransportSettings& settings, bool* connected = nullptr);

// openH2Stream() when a connection to `host` has room for the stream now: the stream, without
// a coroutine frame; null when openH2Stream() is to be awaited.
std::unique_ptr<UpstreamConnection> openH2StreamNow(UpstreamHost& host,
                                                    const asio::any_io_executor& executor,
                                                    const TransportSettings& settings);

// Starts the stream's request with its head as fields (pseudo-header fields first; :scheme is
// the connection's) and the body framed as `body` says: a length, or (kChunked) until the
// request path shuts its sending side down. Bodies then travel unframed both ways and the
// response head arrives parsed in `exchange`. False when the stream or its connection is gone.
// `trailers`, when set, are sent after the body (read when the body ends).
bool startH2Request(H2Exchange& exchange, const http::FieldBlock& fields,
                    const http::BodyFraming& body,
                    common::LocalShared<const http::Fields> trailers = nullptr);

// Hands a finished stream's connection (one openH2Stream made) back to its shared connection,
// which makes its next stream from it instead of a new one; dropped when that connection is
// gone or keeps enough of them.
void releaseH2Stream(std::unique_ptr<UpstreamConnection> stream);

// Open HTTP/2 connections to `host` (their streams in flight and idle), for tests and dumps.
size_t h2ConnectionCount(const UpstreamHost& host);

}  // namespace halyard::proxy::upstream
