// The server side of the HTTP/2 codec (RFC 9113), on the proxy's own connection core
// (h2_session_core.h): bytes in, request events out; responses, body data and trailers in, bytes
// out. No I/O: the connection driver (runtime/h2_connection.h) reads and writes the transport and
// feeds this.
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
#include "proxy/http/h2_session_core.h"

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

class H2ServerSession : private H2SessionCore {
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
  ~H2ServerSession() override;
  H2ServerSession(const H2ServerSession&) = delete;
  H2ServerSession& operator=(const H2ServerSession&) = delete;

  // Feeds received bytes (the client preface first). False when the connection is broken
  // beyond repair (a GOAWAY is queued when the protocol allows one); error() says why.
  using H2SessionCore::receive;
  // Appends what is ready to send to `out` (up to about `max` bytes). False on a fatal error.
  using H2SessionCore::send;
  // Whether the session still has anything to do (a GOAWAY exchanged and no stream left: no).
  using H2SessionCore::error;
  using H2SessionCore::wantsRead;
  using H2SessionCore::wantsWrite;

  // Where a response head's fields are while the session holds the head. The head is encoded
  // when respond() is called, so both are safe; kept: the names are lowercase already.
  enum class FieldStorage {
    kCopied,  // they may go when respond() returns (uppercase names are lowercased)
    // Names lowercase; neither names nor values move, change nor go before the stream closes
    // (onStreamClose) or the session is destroyed.
    kKeptUntilStreamClose,
  };
  // The response head: `body` false sends END_STREAM with it.
  bool respond(int32_t stream_id, uint16_t status, const Fields& headers, bool body,
               FieldStorage storage = FieldStorage::kCopied);
  bool respond(int32_t stream_id, uint16_t status, const FieldBlock& headers, bool body,
               FieldStorage storage = FieldStorage::kCopied);
  // More response body is ready for a stream readBody() deferred.
  using H2SessionCore::resume;
  // `bytes` of a stream's request body were passed on: the client may send as much again.
  using H2SessionCore::consume;
  using H2SessionCore::reset;
  // No new streams: GOAWAY with the last stream id seen.
  using H2SessionCore::goAway;
  // An HTTP/1.1 request upgraded to HTTP/2 (h2c, RFC 7540 §3.2): the client's HTTP2-Settings
  // (decoded) apply, and stream 1 is that request, half-closed by the client. The caller then
  // serves stream 1 as it would any request. False when the settings are malformed.
  bool upgrade(std::string_view settings_payload, bool head_request);

 private:
  uint32_t onStreamHead(Stream& s, const H2Pseudo& pseudo, std::span<const HpackField> fields,
                        bool end_stream) override;
  uint32_t onReplyHead(Stream&, const H2Pseudo&, std::span<const HpackField>, bool, bool&) override;
  void onTrailers(Stream& s, std::span<const HpackField> fields) override;
  void onData(Stream& s, std::span<const uint8_t> data) override;
  void onRemoteEnd(Stream& s) override;
  void onClose(Stream& s, uint32_t error_code) override;
  long readBody(Stream& s, uint8_t* out, size_t max, bool& end) override;
  const Fields* bodyTrailers(Stream& s) override;
  // The response head in head_scratch_ after :status.
  bool submitResponse(int32_t stream_id, uint16_t status, bool body);
  // A name as HTTP/2 carries it: lowercase (a copy in lowered_ when it is not).
  std::string_view lowercaseName(std::string_view name);

  Handler& handler_;
  std::vector<std::string> lowered_;
};

}  // namespace halyard::proxy::http
