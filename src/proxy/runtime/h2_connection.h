// The HTTP/2 connection manager of one client connection (h2c with prior knowledge, or h2 chosen
// by ALPN on TLS): runs the HTTP/2 codec (http/h2_server_session.h) over the connection's
// transport and serves every stream as one request through the same path as HTTP/1.1.
//
// Each stream is handed to an ordinary DownstreamConnection over a local socket pair: the driver
// writes the stream's request into the pair as an HTTP/1.1 request head and body, and the
// stream's connection runs the request phases, routing, authorization, faults, retries,
// mirrors, timeouts, local replies and telemetry exactly as for HTTP/1.1. What comes back is
// not re-parsed: the response head and trailers go through the stream's H2ResponseEncoder (the
// codec seam) and only the body bytes travel back through the pair.
//
// Flow control end to end, so memory stays bounded for a slow reader or a slow writer: the
// client's window for a stream is returned only when its bytes went into the pair; a response
// is read from the pair only while less than kMaxPending bytes wait for the client's window;
// the pair's own socket buffers are small, so a full one stops the relay and the upstream.
#pragma once

#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"

namespace halyard::proxy::runtime {

// Serves `ds` as an HTTP/2 connection until it ends. Its transport is set up; bytes already
// read (the client preface, at least in part) are in ds.in.
net::awaitable<void> serveHttp2(Downstream& ds);

}  // namespace halyard::proxy::runtime
