// The client side of the HTTP/2 codec, on the proxy's own connection core (h2_session_core.h),
// for upstream connections: requests in, response events out. No I/O: upstream/h2_session.h reads
// and writes the transport. Flow control as on the server side: received DATA is returned to the
// server's window only when the driver passed it on (consume()), and request DATA is pulled when
// the window allows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/field_block.h"
#include "proxy/http/h2_response_encoder.h"
#include "proxy/http/h2_session_core.h"

namespace halyard::proxy::http {

class H2ClientSession : private H2SessionCore {
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
  ~H2ClientSession() override;
  H2ClientSession(const H2ClientSession&) = delete;
  H2ClientSession& operator=(const H2ClientSession&) = delete;

  using H2SessionCore::error;
  using H2SessionCore::receive;
  using H2SessionCore::send;
  using H2SessionCore::wantsRead;
  using H2SessionCore::wantsWrite;

  // A new request: `fields` are the pseudo-header fields then the rest, in order; `body` false
  // ends the stream with the head. The stream id, or a negative value when no stream can be
  // opened (the connection is going away or out of stream ids).
  int32_t request(const Fields& fields, bool body);
  // The same from the request path's field list (pseudo-header fields first, names lowercase)
  // with `scheme` as :scheme, which the connection decides. The fields are the caller's again
  // when this returns (the head is encoded at once).
  int32_t request(const FieldBlock& fields, std::string_view scheme, bool body);
  using H2SessionCore::consume;
  using H2SessionCore::reset;
  using H2SessionCore::resume;
  // Streams the server allows at once, and whether it sent GOAWAY (no new streams here).
  uint32_t maxStreams() const { return peerMaxConcurrentStreams(); }
  bool goingAway() const { return goAwayReceived(); }

 private:
  struct Response {
    uint16_t status = 0;
    FieldBlock headers;
    Fields trailers;
  };
  uint32_t onStreamHead(Stream&, const H2Pseudo&, std::span<const HpackField>, bool) override;
  uint32_t onReplyHead(Stream& s, const H2Pseudo& pseudo, std::span<const HpackField> fields,
                       bool end_stream, bool& final_head) override;
  void onTrailers(Stream& s, std::span<const HpackField> fields) override;
  void onData(Stream& s, std::span<const uint8_t> data) override;
  void onRemoteEnd(Stream& s) override;
  void onClose(Stream& s, uint32_t error_code) override;
  long readBody(Stream& s, uint8_t* out, size_t max, bool& end) override;
  const Fields* bodyTrailers(Stream& s) override;
  // Sends the head in head_scratch_ on a new stream; its id or -1.
  int32_t submit(bool body, bool head_request);
  static Response& response(Stream& s) { return *static_cast<Response*>(s.user); }

  Handler& handler_;
  // Response state, pooled with the streams: a stream's is taken when it opens and returned
  // (with the capacity of its fields) when it closes; up to kSpareResponses are kept.
  static constexpr size_t kSpareResponses = 16;
  std::vector<std::unique_ptr<Response>> responses_;
  std::vector<Response*> spare_;
  std::vector<std::string> lowered_;  // request field names lowercased (Fields requests)
};

}  // namespace halyard::proxy::http
