// The request path's door to the client, for one request (stream): reading its body, writing
// interim and local responses through the client's codec, and the byte accounting and failure
// handling every downstream write needs (a client that went away is DC and closes the
// connection). What is HTTP/1.1-specific about the downstream side stays behind these calls
// and the codec (Downstream::encoder), so an HTTP/2 stream can serve the same request path.
#pragma once

#include <asio/buffer.hpp>

#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/local_reply.h"
#include "proxy/runtime/request_state.h"

namespace halyard::proxy::runtime {

// One write to the client accounted for: its bytes, and DC (and close) when it failed.
inline bool countClientWrite(RequestState& rq, const IoResult& r) {
  rq.record.log.bytes_sent += r.bytes;
  if (!r.ok()) {
    rq.record.log.response_flags.set(telemetry::ResponseFlag::kDownstreamConnectionTermination);
    rq.close = true;
    return false;
  }
  return true;
}

// A write to an HTTP/2 stream's client that fits the stream's pipe completes at once: the hot
// path writes it with writeToClientNow, without writeToClient's coroutine frames.
inline bool clientWritesAtOnce(Downstream& ds, size_t bytes) {
  return ds.transport.writesAtOnce(bytes);
}
template <class Buffers>
bool writeToClientNow(Downstream& ds, RequestState& rq, const Buffers& buffers) {
  return countClientWrite(rq, writeNow(ds.transport, buffers));
}

// Writes `buffers` to the client within the idle timeout. False (and DC, close) when it fails.
template <class Buffers>
net::awaitable<bool> writeToClient(Downstream& ds, RequestState& rq, const Buffers& buffers) {
  if (clientWritesAtOnce(ds, asio::buffer_size(buffers))) {
    co_return writeToClientNow(ds, rq, buffers);
  }
  co_return countClientWrite(
      rq, co_await writeAll(ds.transport, buffers, ds.write_timer, ds.idleDeadline()));
}

// The next bytes of the request body as the client's codec delivers them (HTTP/1.1: de-chunked
// out of the connection's buffer and transport, within the idle timeout); an empty view once
// the body is complete.
net::awaitable<BodyRead> readRequestBody(Downstream& ds, RequestState& rq);

// "100 Continue" for a client that waits for it before sending its body. False: the client is
// gone (DC).
net::awaitable<bool> sendContinue(Downstream& ds, RequestState& rq);

// Sends a complete local reply. Fills in what the request decides (HEAD, HTTP/1.0 keep-alive,
// Connection: close) and decides whether an unread request body forces the connection closed.
// The caller has set the response flags and details.
net::awaitable<void> sendLocalReply(Downstream& ds, RequestState& rq, LocalReply reply);

// A failure on the request path, as a value: the status the client gets and the Envoy response
// flag and details the access log and metrics record. The sentence naming the cause is
// rq.reason.
struct RequestFailure {
  uint16_t status = 503;
  telemetry::ResponseFlag flag = telemetry::ResponseFlag::kNoHealthyUpstream;
  std::string_view details;
};

// The one place a failure becomes the client's answer (downstream framing errors, no route,
// upstream connect/reset/timeout/protocol failures): records flag and details, then sends the
// local reply with rq.reason.
net::awaitable<void> sendFailure(Downstream& ds, RequestState& rq, const RequestFailure& failure);

// After the response: reads and drops what is left of a small request body so the connection
// can serve the next request; closes it instead when that is not possible.
net::awaitable<void> discardRequestBody(Downstream& ds, RequestState& rq);

}  // namespace halyard::proxy::runtime
