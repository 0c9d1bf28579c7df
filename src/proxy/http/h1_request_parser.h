// Incremental, zero-copy HTTP/1.1 request head parser (RFC 9112, RFC 9110).
//
// The connection owns the bytes and keeps one request's head contiguous until it is complete:
// each feed() passes everything received for this request so far. On kHeadComplete, head()
// describes the request with views into that buffer (names lowercased in place), valid while
// the connection leaves those bytes alone. The body starts at head().head_bytes.
//
// Per connection: construct once, then per request feed()... until kHeadComplete or kError,
// handle the body, reset(). The header array is reserved at the first head; no allocation after
// that. On kError, answer error().status with error().reason and close the
// connection: framing after a bad head cannot be trusted.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/http/h1_head_scanner.h"
#include "proxy/http/h1_types.h"
#include "proxy/http/request_view.h"

namespace halyard::proxy::http {

struct RequestHead {
  std::string_view method;  // case-sensitive token (RFC 9110 §9.1)
  std::string_view target;  // the request-target exactly as received
  // origin-form: the target ("/a?x=1"); absolute-form: its path and query ("/" if empty);
  // asterisk-form: "*"; authority-form (CONNECT): empty.
  std::string_view path;
  // Absolute-form or authority-form authority; otherwise the Host value (RFC 9112 §3.2.2: the
  // target's authority wins over Host).
  std::string_view authority;
  std::string_view host;  // the Host header value; empty if absent (allowed for HTTP/1.0)
  HttpVersion version = HttpVersion::kHttp11;
  std::span<const HeaderView> headers;
  size_t head_bytes = 0;  // request line + headers + empty line, and empty lines before them
  // RFC 9112 §9.3: HTTP/1.1 persists unless "Connection: close"; HTTP/1.0 only with
  // "Connection: keep-alive".
  bool keep_alive = true;
  bool expect_continue = false;  // "Expect: 100-continue" on HTTP/1.1 (ignored on 1.0, §10.1.1)
  // "Connection: upgrade" plus an Upgrade header on HTTP/1.1 (RFC 9110 §7.8; ignored on 1.0).
  bool upgrade = false;
  std::string_view upgrade_protocol;  // the Upgrade value, e.g. "websocket"
  BodyFraming framing;
};

class RequestParser {
 public:
  explicit RequestParser(const ParserLimits& limits = {});

  // Parses as far as `buffer` allows. Once kHeadComplete or kError, further calls return the
  // same result until reset().
  ParseStatus feed(std::span<char> buffer);

  const RequestHead& head() const { return head_; }   // after kHeadComplete
  const ParseError& error() const { return error_; }  // after kError

  // Ready for the next request on the connection (its bytes start a new buffer view).
  void reset();

 private:
  ParseStatus fail(uint16_t status, std::string_view reason);
  ParseStatus parseHead(std::span<char> buffer);
  bool parseRequestLine(std::string_view line);
  bool parseTarget();

  HeadScanner scanner_;
  std::vector<HeaderView> headers_;  // reserved for the maximum at the first head
  size_t max_headers_;
  RequestHead head_;
  ParseError error_;
  ParseStatus status_ = ParseStatus::kNeedMore;
};

// What routing sees of a parsed request. `scheme` and `listener_port` describe the downstream
// connection, which the codec does not know.
RequestView toRequestView(const RequestHead& head, std::string_view scheme, uint16_t listener_port);

}  // namespace halyard::proxy::http
