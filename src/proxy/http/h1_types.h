// Vocabulary shared by the HTTP/1.1 request and response parsers (RFC 9112).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"

namespace halyard::proxy::http {

// Bounds on a message head. The parser never buffers: the connection does, so these limits are
// also what bounds the memory one connection can make the proxy hold for a head.
struct ParserLimits {
  // The request line (status line for responses) without its CRLF; leading empty lines count
  // too. Over the limit: 414 for a request.
  size_t max_request_line_bytes = 8 * 1024;
  // The header section: every field line plus the final empty line. Over the limit: 431.
  size_t max_header_bytes = 60 * 1024;
  // Field lines in the header section. Over the limit: 431.
  size_t max_headers = 100;
};

enum class ParseStatus : uint8_t { kNeedMore, kHeadComplete, kError };

// Why a message was rejected. `status` is the response the proxy sends (400, 414, 431, 501, 505
// for a request; 502 for anything wrong in an upstream response); `reason` is static text for
// x-halyard-reason, so reporting an error never allocates.
struct ParseError {
  uint16_t status = 0;
  std::string_view reason;
};

// The structured error of the data plane: 414/431 are kOverflow, the rest kProtocol.
common::Error toError(const ParseError& error, common::ErrorSource source);

// HTTP/1.x minor versions above 1 are treated as 1.1 (RFC 9110 §2.5).
enum class HttpVersion : uint8_t { kHttp10, kHttp11 };

enum class BodyKind : uint8_t {
  kNone,           // no body follows the head
  kContentLength,  // exactly content_length bytes follow (possibly 0)
  kChunked,        // chunked transfer coding: feed the bytes to a ChunkedDecoder
  kUntilClose,     // responses only: the body ends when the upstream closes (RFC 9112 §6.3 rule 8)
};

struct BodyFraming {
  BodyKind kind = BodyKind::kNone;
  uint64_t content_length = 0;  // meaningful when kind == kContentLength
};

}  // namespace halyard::proxy::http
