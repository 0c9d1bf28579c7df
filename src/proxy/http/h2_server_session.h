// The server side of the HTTP/2 codec (RFC 9113), nghttp2 underneath: bytes in, request events
// out; responses, body data and trailers in, bytes out. No I/O: the connection driver
// (runtime/h2_connection.h) reads and writes the transport and feeds this.
//
// Flow control is explicit: received DATA counts against the client's window until the driver
// says it was passed on (consume()), so a stream whose consumer is slow stops its client after
// one window, and memory stays bounded however large the upload. Response DATA is pulled from
// the handler when the client's window allows (readBody), so a slow reader holds back the relay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/h2_response_encoder.h"

struct nghttp2_session;

namespace halyard::proxy::http {

// A request's head as HTTP/2 delivered it: pseudo-header fields apart, the rest in order (names
// lowercase, as HTTP/2 requires).
struct H2RequestHead {
  std::string method;
  std::string scheme;
  std::string authority;
  std::string path;
  std::string protocol;  // :protocol (extended CONNECT); empty otherwise
  Fields headers;
};

struct H2Settings {
  uint32_t max_concurrent_streams = 256;
  uint32_t initial_window = 64 * 1024 - 1;   // per stream, what a client may send unread
  uint32_t connection_window = 1024 * 1024;  // all streams together
  uint32_t max_header_list = 64 * 1024;
};

class H2ServerSession {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // A request head arrived; `end_stream`: no body follows.
    virtual void onRequest(int32_t stream_id, H2RequestHead head, bool end_stream) = 0;
    virtual void onRequestData(int32_t stream_id, std::span<const uint8_t> data) = 0;
    virtual void onRequestEnd(int32_t stream_id) = 0;
    // The request's trailers (a trailing HEADERS frame; gRPC client streaming with trailing
    // metadata), just before onRequestEnd.
    virtual void onRequestTrailers(int32_t /*stream_id*/, Fields /*trailers*/) {}
    // The stream is gone (complete, reset by either side, or the connection failed);
    // `error_code` is HTTP/2's (0: NO_ERROR).
    virtual void onStreamClose(int32_t stream_id, uint32_t error_code) = 0;
    // Up to `max` response body bytes for the stream into `out`; returns how many, or -1 when
    // none are ready yet (the driver calls resume() when they are). `end` set: the body ended
    // with these bytes.
    virtual long readBody(int32_t stream_id, uint8_t* out, size_t max, bool& end) = 0;
    // After the body ended: trailers to send, if any (empty: END_STREAM on the last DATA).
    virtual const Fields* trailers(int32_t stream_id) = 0;
  };

  H2ServerSession(Handler& handler, const H2Settings& settings);
  ~H2ServerSession();
  H2ServerSession(const H2ServerSession&) = delete;
  H2ServerSession& operator=(const H2ServerSession&) = delete;

  // Feeds received bytes (the client preface first). False when the connection is broken
  // beyond repair (a GOAWAY is queued when the protocol allows one); error() says why.
  bool receive(std::span<const uint8_t> bytes);
  // Appends what is ready to send to `out` (up to about `max` bytes). False on a fatal error.
  bool send(std::string& out, size_t max);
  // Whether the session still has anything to do (a GOAWAY exchanged and no stream left: no).
  bool wantsRead() const;
  bool wantsWrite() const;
  const std::string& error() const { return error_; }

  // Where a response head's fields are while nghttp2 holds the head.
  enum class FieldStorage {
    kCopied,  // nghttp2 copies them (and lowercases names): they may go when respond() returns
    // Names lowercase; neither names nor values move, change nor go before the stream closes
    // (onStreamClose) or the session is destroyed: nghttp2 packs the head from them. (A head
    // still queued when its stream closes is dropped unread.)
    kKeptUntilStreamClose,
  };
  // The response head: `body` false sends END_STREAM with it.
  bool respond(int32_t stream_id, uint16_t status, const Fields& headers, bool body,
               FieldStorage storage = FieldStorage::kCopied);
  bool respond(int32_t stream_id, uint16_t status, const FieldBlock& headers, bool body,
               FieldStorage storage = FieldStorage::kCopied);
  // More response body is ready for a stream readBody() deferred.
  void resume(int32_t stream_id);
  // `bytes` of a stream's request body were passed on: the client may send as much again.
  void consume(int32_t stream_id, size_t bytes);
  void reset(int32_t stream_id, uint32_t error_code);
  // No new streams: GOAWAY with the last stream id seen.
  void goAway();
  // An HTTP/1.1 request upgraded to HTTP/2 (h2c, RFC 7540 §3.2): the client's HTTP2-Settings
  // (decoded) apply, and stream 1 is that request, half-closed by the client. The caller then
  // serves stream 1 as it would any request. False when the settings are malformed.
  bool upgrade(std::string_view settings_payload, bool head_request);

 private:
  struct Callbacks;
  // Submits the response head in this thread's scratch fields (h2_server_session.cc), whose
  // first entry is left for :status.
  bool submitResponse(int32_t stream_id, uint16_t status, bool body);
  Handler& handler_;
  nghttp2_session* session_ = nullptr;
  std::string error_;
  // The request head being received, per stream (HEADERS and CONTINUATION arrive whole before
  // the frame callback, one stream at a time).
  int32_t head_stream_ = 0;
  H2RequestHead head_;
  // The request trailers being received, likewise.
  int32_t trailer_stream_ = 0;
  Fields trailers_;
  uint32_t heads_ = 0;  // response heads submitted (h2_session_io.h, kSeedEvery)
};

}  // namespace halyard::proxy::http
