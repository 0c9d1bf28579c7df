// The response half of the codec seam: the connection manager says what to send — a head
// (status, headers, how the body follows), body data, the end — and a codec turns it into its
// protocol's bytes, as Proxygen's HTTPCodec does. HTTP/1.1 (H1ResponseEncoder) is the first;
// HTTP/2 will be a second implementation behind the same calls, not a fork of the relay.
//
// Headers are given one at a time (the relay streams them out of the header operations without
// collecting them first). Body bytes are never copied: data() returns the framing to write
// before and after them, for scatter/gather I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/h1_types.h"

namespace halyard::proxy::http {

// How a response's body follows its head, as the connection manager decided it.
struct ResponseFraming {
  // kNone: no body; kContentLength: `content_length` bytes; kChunked: streamed, length unknown;
  // kUntilClose: streamed, ended by closing the connection (a client that cannot take chunked).
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;
  // A HEAD answer or a 304 without a body: the length of the representation it describes, as
  // the upstream stated it (empty: none).
  std::string_view described_length{};
  bool close = false;              // the connection ends after this response
  bool http10_keep_alive = false;  // an HTTP/1.0 client keeps the connection
  std::string_view upgrade{};      // 101 Switching Protocols: the protocol switched to
};

// What to write around `size` bytes of body data.
struct DataFrame {
  std::string_view prefix;
  std::string_view suffix;
};

class ResponseEncoder {
 public:
  virtual ~ResponseEncoder() = default;

  // The status (interim 1xx or final) and, where the protocol has one, its reason phrase
  // (empty: the standard phrase).
  virtual void beginHead(uint16_t status, std::string_view reason, std::string& out) = 0;
  // One end-to-end header (lowercase name); hop-by-hop headers are the caller's to drop.
  virtual void header(std::string_view name, std::string_view value, std::string& out) = 0;
  // The protocol's own framing headers, then the end of the head.
  virtual void endHead(const ResponseFraming& framing, std::string& out) = 0;
  // The framing around the next `size` (> 0) bytes of body data; valid until the next call.
  virtual DataFrame data(size_t size) = 0;
  // What ends the body (empty when nothing does).
  virtual std::string_view end() = 0;
  // A trailer field of the upstream's response, before end(). HTTP/1.1 drops them (its chunked
  // trailers are not relayed); HTTP/2 sends them in a trailing HEADERS frame (gRPC's status).
  virtual void trailer(std::string_view /*name*/, std::string_view /*value*/) {}
  // The response about to be encoded is one the proxy makes itself (an error, a redirect): an
  // HTTP/2 encoder answers a gRPC request with a trailers-only gRPC status instead.
  virtual void localReply() {}
};

}  // namespace halyard::proxy::http
