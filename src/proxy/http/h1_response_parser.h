// Incremental, zero-copy HTTP/1.1 response head parser for upstream responses (RFC 9112).
// Same buffer contract as RequestParser. Every error is a 502 for the downstream client: a
// response the proxy cannot frame is never forwarded.
//
// Per upstream exchange: reset(method of the request) then feed() until kHeadComplete. An
// interim response (head().interim, e.g. 100 Continue) is followed by another head on the same
// connection: consume head_bytes, reset() with the same method, and feed the rest.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/http/h1_head_scanner.h"
#include "proxy/http/h1_types.h"
#include "proxy/http/request_view.h"

namespace halyard::proxy::http {

struct ResponseHead {
  HttpVersion version = HttpVersion::kHttp11;
  uint16_t status = 0;      // 100..599
  std::string_view reason;  // reason-phrase, possibly empty; ignored by HTTP semantics
  std::span<const HeaderView> headers;
  size_t head_bytes = 0;
  // 1xx other than 101: informational, the final response follows (RFC 9110 §15.2).
  bool interim = false;
  // 101 Switching Protocols, or a 2xx answer to CONNECT: the bytes after the head belong to
  // another protocol (RFC 9112 §6.3 rule 2, RFC 9110 §15.2.2).
  bool tunnel = false;
  std::string_view upgrade_protocol;  // the Upgrade value of a 101
  // Reusable for another request: HTTP/1.1 without "Connection: close", HTTP/1.0 with
  // "Connection: keep-alive" (RFC 9112 §9.3), and never after a close-delimited body or tunnel.
  bool keep_alive = true;
  BodyFraming framing;
};

class ResponseParser {
 public:
  explicit ResponseParser(const ParserLimits& limits = {});

  ParseStatus feed(std::span<char> buffer);

  const ResponseHead& head() const { return head_; }
  const ParseError& error() const { return error_; }

  // Ready for a response to a request with this method: HEAD and CONNECT change the framing
  // (RFC 9112 §6.3 rules 1 and 2). The parser keeps a copy of nothing but those two facts.
  void reset(std::string_view request_method);

  // A head that arrived parsed (an HTTP/2 upstream's): complete as if fed, until reset().
  void setHead(const ResponseHead& head) {
    head_ = head;
    status_ = ParseStatus::kHeadComplete;
  }
  bool complete() const { return status_ == ParseStatus::kHeadComplete; }

 private:
  ParseStatus fail(std::string_view reason);
  ParseStatus parseHead(std::span<char> buffer);
  bool parseStatusLine(std::string_view line);

  HeadScanner scanner_;
  std::vector<HeaderView> headers_;  // reserved for the maximum at the first head
  size_t max_headers_;
  bool request_was_head_ = false;
  bool request_was_connect_ = false;
  ResponseHead head_;
  ParseError error_;
  ParseStatus status_ = ParseStatus::kNeedMore;
};

}  // namespace halyard::proxy::http
