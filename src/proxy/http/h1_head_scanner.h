// Finds the end of an HTTP/1.1 message head incrementally and enforces the size limits while
// the head is still arriving, so a peer can never make the connection buffer more than the
// limits allow. Shared by RequestParser and ResponseParser; it only reads the buffer.
//
// Line endings are strict CRLF. RFC 9112 §2.2 lets a recipient accept a bare LF, but a proxy
// that does so while the upstream does not (or the other way round) disagrees with it about
// where a head ends, which is the root of request smuggling. A bare LF is rejected as soon as it
// is seen, instead of waiting for a "\r\n\r\n" that a LF-only client never sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http/h1_types.h"

namespace halyard::proxy::http {

class HeadScanner {
 public:
  // The status each failure maps to: 414/431/400 for requests, 502 for all of them upstream.
  struct Statuses {
    uint16_t start_line_too_long;
    std::string_view start_line_too_long_reason;
    uint16_t header_section_too_large;
    uint16_t malformed;
  };

  HeadScanner(const ParserLimits& limits, Statuses statuses)
      : limits_(limits), statuses_(statuses) {}

  void reset() { *this = HeadScanner(limits_, statuses_); }

  // `bytes` is everything received for this head so far; each call passes the previous bytes
  // unchanged plus any new ones. Work is proportional to the new bytes only.
  ParseStatus scan(std::string_view bytes);

  const ParseError& error() const { return error_; }

  // Valid after kHeadComplete. Offsets into the scanned bytes.
  size_t startLineBegin() const { return start_line_begin_; }
  size_t startLineEnd() const { return start_line_end_; }  // at its CR
  size_t fieldsBegin() const { return fields_begin_; }
  size_t headEnd() const { return head_end_; }  // just past the final empty line

 private:
  ParseStatus fail(uint16_t status, std::string_view reason);

  ParserLimits limits_;
  Statuses statuses_;
  bool in_fields_ = false;
  size_t scan_pos_ = 0;    // next byte to look at
  size_t line_begin_ = 0;  // start of the line being scanned
  size_t start_line_begin_ = 0;
  size_t start_line_end_ = 0;
  size_t fields_begin_ = 0;
  size_t head_end_ = 0;
  size_t field_lines_ = 0;
  ParseStatus status_ = ParseStatus::kNeedMore;
  ParseError error_;
};

}  // namespace halyard::proxy::http
