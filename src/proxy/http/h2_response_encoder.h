// HTTP/2 behind the ResponseEncoder seam. HTTP/2 frames its own messages, so nothing is written
// into the byte stream: the head (status and headers, minus HTTP/1.1's connection-specific
// fields) and the trailers are collected as fields and handed to the stream's sink, which
// submits them to the HTTP/2 session; body bytes pass through unframed.
//
// A gRPC request gets the proxy's own replies (no route, no healthy upstream, timeouts, denials)
// as gRPC does errors: trailers-only, HTTP 200 with grpc-status and grpc-message, no body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/field_block.h"
#include "proxy/http/response_encoder.h"

namespace halyard::proxy::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

class H2ResponseEncoder final : public ResponseEncoder {
 public:
  // Where a finished head goes.
  class Sink {
   public:
    virtual ~Sink() = default;
    // The final head is complete; `body` false when no DATA follows (HEAD, 204, 304,
    // trailers-only).
    virtual void onResponseHead(H2ResponseEncoder& encoder, bool body) = 0;
  };

  explicit H2ResponseEncoder(bool grpc_request, bool head_request)
      : grpc_(grpc_request), head_request_(head_request) {}

  // Back to a new encoder's state for another stream's response (its buffers' capacity kept).
  void reset(bool grpc_request, bool head_request) {
    sink_ = nullptr;
    grpc_ = grpc_request;
    head_request_ = head_request;
    local_ = tunnel_ = interim_ = head_sent_ = ignored_ = false;
    status_ = 0;
    reason_.clear();
    headers_.clear();
    trailers_.clear();
    grpc_status_.clear();
  }

  void setSink(Sink* sink) { sink_ = sink; }
  // The request was an extended CONNECT (WebSocket over HTTP/2, RFC 8441): the upstream's
  // 101 Switching Protocols is answered as 200 and the tunnel's bytes follow as DATA.
  void setTunnel() { tunnel_ = true; }

  void beginHead(uint16_t status, std::string_view reason, std::string& out) override;
  void header(std::string_view name, std::string_view value, std::string& out) override;
  void endHead(const ResponseFraming& framing, std::string& out) override;
  DataFrame data(size_t) override { return {}; }
  std::string_view end() override { return {}; }
  void trailer(std::string_view name, std::string_view value) override;
  void localReply() override { local_ = true; }

  uint16_t status() const { return status_; }
  // The final head's fields (names lowercase): unchanged from the sink's onResponseHead on, for
  // as long as the encoder lives, so HTTP/2 may send them without a copy.
  const FieldBlock& headers() const { return headers_; }
  const Fields& trailers() const { return trailers_; }
  bool headSent() const { return head_sent_; }
  // The gRPC status of the response (from its head or its trailers), or empty.
  std::string_view grpcStatus() const { return grpc_status_; }
  bool grpcRequest() const { return grpc_; }

 private:
  Sink* sink_ = nullptr;
  bool grpc_;
  bool head_request_;
  bool local_ = false;
  bool tunnel_ = false;
  bool interim_ = false;  // a 1xx head is being encoded: not forwarded
  bool head_sent_ = false;
  bool ignored_ = false;  // a head begun after the final one was sent: dropped
  uint16_t status_ = 0;
  std::string reason_;  // x-halyard-reason of a local reply, for grpc-message
  FieldBlock headers_;  // one buffer: no string (and allocation) per field
  Fields trailers_;
  std::string grpc_status_;
};

// The gRPC status the proxy answers a gRPC request with in place of an HTTP status of its own
// (as Envoy maps them): 400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
// 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, anything else UNKNOWN.
std::string_view grpcStatusForHttp(uint16_t status);

// grpc-message is percent-encoded (gRPC's HTTP/2 protocol): bytes outside printable ASCII and
// '%' itself.
std::string percentEncodeGrpcMessage(std::string_view message);

// True for the fields HTTP/2 forbids (RFC 9113 §8.2.2): Connection and the fields it names by
// convention, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade.
bool isConnectionSpecific(std::string_view lower_name);

}  // namespace halyard::proxy::http
