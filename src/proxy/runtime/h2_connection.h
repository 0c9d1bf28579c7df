// The HTTP/2 connection manager of one client connection (h2c with prior knowledge, or h2 chosen
// by ALPN on TLS): runs the HTTP/2 codec (http/h2_server_session.h) over the connection's
// transport and serves every stream as one request through the same path as HTTP/1.1.
//
// Each stream is served by an ordinary DownstreamConnection, as one request: the request
// phases, routing, authorization, faults, retries, mirrors, timeouts, local replies and
// telemetry are exactly those of HTTP/1.1. Nothing is re-serialized: the stream's head goes to
// it parsed (http/h2_stream_request.h, the same RequestHead the HTTP/1.1 parser makes), its body
// as bytes without framing through a net::MemoryPipe, ended with the stream. The response head
// and trailers come back through the stream's H2ResponseEncoder (the codec seam) and only the
// body bytes travel back through the pipe.
//
// Flow control end to end, so memory stays bounded for a slow reader or a slow writer: the
// client's window for a stream is returned only when the request path read its bytes from the
// pipe; the request path's writes wait while 64 KiB of response wait for the client's window.
#pragma once

#include <string>

#include "proxy/http/h2_server_session.h"
#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"

namespace halyard::proxy::runtime {

// An HTTP/1.1 request that asked to go on as HTTP/2 (Upgrade: h2c with HTTP2-Settings, RFC 7540
// §3.2) and was answered 101: it becomes stream 1 of the connection.
struct H2cUpgrade {
  http::H2RequestHead head;
  std::string settings;  // the HTTP2-Settings payload, decoded
};

// Serves `ds` as an HTTP/2 connection until it ends. Its transport is set up; bytes already
// read (the client preface, at least in part) are in ds.in. `upgrade`: the connection was
// upgraded from HTTP/1.1, and that request is stream 1.
net::awaitable<void> serveHttp2(Downstream& ds, H2cUpgrade* upgrade = nullptr);

}  // namespace halyard::proxy::runtime
