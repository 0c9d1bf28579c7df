// The client side of the HTTP/2 codec, nghttp2 underneath, for upstream connections: requests
// in, response events out. No I/O: upstream/h2_session.h reads and writes the transport.
// Flow control as on the server side: received DATA is returned to the server's window only when
// the driver passed it on (consume()), and request DATA is pulled when the window allows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/field_block.h"
#include "proxy/http/h2_response_encoder.h"

struct nghttp2_session;

namespace halyard::proxy::http {

class H2ClientSession {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // The final response head (interim 1xx heads are dropped); `end_stream`: no body or
    // trailers follow (a gRPC trailers-only response). The handler may take `headers` (swap
    // them out); what it leaves is the session's again.
    virtual void onResponseHead(int32_t stream_id, uint16_t status, FieldBlock& headers,
                                bool end_stream) = 0;
    virtual void onResponseData(int32_t stream_id, std::span<const uint8_t> data) = 0;
    // The response ended, with its trailers (empty when it had none).
    virtual void onResponseEnd(int32_t stream_id, Fields trailers) = 0;
    // The stream is gone; error_code is HTTP/2's (0 after a complete exchange).
    virtual void onStreamClose(int32_t stream_id, uint32_t error_code) = 0;
    // Request body, as H2ServerSession::Handler::readBody.
    virtual long readBody(int32_t stream_id, uint8_t* out, size_t max, bool& end) = 0;
    // After the request body ended: trailers to send, if any (null or empty: END_STREAM on the
    // last DATA).
    virtual const Fields* requestTrailers(int32_t /*stream_id*/) { return nullptr; }
  };

  explicit H2ClientSession(Handler& handler);
  ~H2ClientSession();
  H2ClientSession(const H2ClientSession&) = delete;
  H2ClientSession& operator=(const H2ClientSession&) = delete;

  bool receive(std::span<const uint8_t> bytes);
  bool send(std::string& out, size_t max);
  bool wantsRead() const;
  bool wantsWrite() const;
  const std::string& error() const { return error_; }

  // A new request: `fields` are the pseudo-header fields then the rest, in order; `body` false
  // ends the stream with the head. The stream id, or a negative value when no stream can be
  // opened (the connection is going away or out of stream ids).
  int32_t request(const Fields& fields, bool body);
  // The same from the request path's field list (pseudo-header fields first, names lowercase)
  // with `scheme` as :scheme, which the connection decides. The fields are the caller's again
  // when this returns.
  int32_t request(const FieldBlock& fields, std::string_view scheme, bool body);
  void resume(int32_t stream_id);
  void consume(int32_t stream_id, size_t bytes);
  void reset(int32_t stream_id, uint32_t error_code);
  // Streams the server allows at once, and whether it sent GOAWAY (no new streams here).
  uint32_t maxStreams() const;
  bool goingAway() const { return going_away_; }

 private:
  struct Callbacks;
  struct Response {
    uint16_t status = 0;
    bool head_done = false;
    FieldBlock headers;
    Fields trailers;
    // The request's head as nghttp2 sends it (by reference) while the stream is open.
    FieldBlock request;
    std::string scheme;
  };
  // Request storage of streams that ended, for the next ones (their capacity, not their fields).
  static constexpr size_t kSpareFieldBlocks = 16;
  // The stream's response state, or null; the last one found is remembered (a head's fields
  // arrive one by one for the same stream).
  Response* find(int32_t id);
  // Drops a stream's state; its request storage goes to the spares.
  void forget(int32_t id);
  Handler& handler_;
  nghttp2_session* session_ = nullptr;
  std::string error_;
  bool going_away_ = false;
  std::map<int32_t, Response> responses_;  // nodes stay put: nghttp2 points into `request`
  std::vector<FieldBlock> spare_fields_;
  uint32_t heads_ = 0;   // request heads submitted (h2_session_io.h, kSeedEvery)
  int32_t last_id_ = 0;  // 0: none (stream ids start at 1)
  Response* last_ = nullptr;
};

}  // namespace halyard::proxy::http
