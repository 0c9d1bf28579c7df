#include "proxy/http/h1_head_scanner.h"

#include <cstring>

namespace halyard::proxy::http {

ParseStatus HeadScanner::fail(uint16_t status, std::string_view reason) {
  error_ = ParseError{status, reason};
  return status_ = ParseStatus::kError;
}

ParseStatus HeadScanner::scan(std::string_view bytes) {
  if (status_ != ParseStatus::kNeedMore) return status_;
  // The limits are checked on the bytes before each LF (CR included) with the same formula
  // whether the line is complete or still arriving, so splitting the input never changes the
  // verdict.
  const size_t max_start_line = limits_.max_request_line_bytes + 1;
  while (scan_pos_ < bytes.size()) {
    const void* found = std::memchr(bytes.data() + scan_pos_, '\n', bytes.size() - scan_pos_);
    if (found == nullptr) {
      scan_pos_ = bytes.size();
      break;
    }
    const size_t lf = static_cast<const char*>(found) - bytes.data();
    scan_pos_ = lf + 1;
    if (!in_fields_) {
      // Leading empty lines count towards the request line, which bounds how many are skipped.
      if (lf > max_start_line) {
        return fail(statuses_.start_line_too_long, statuses_.start_line_too_long_reason);
      }
    } else if (lf + 1 - fields_begin_ > limits_.max_header_bytes) {
      return fail(statuses_.header_section_too_large, "header section too large");
    }
    if (lf == line_begin_ || bytes[lf - 1] != '\r') {
      return fail(statuses_.malformed, "bare LF line ending (CRLF required)");
    }
    const size_t content_end = lf - 1;
    const bool empty_line = content_end == line_begin_;
    if (!in_fields_) {
      if (!empty_line) {
        // RFC 9112 §2.2: empty lines before the start line are ignored (pipelining clients
        // sometimes send a CRLF after a body).
        start_line_begin_ = line_begin_;
        start_line_end_ = content_end;
        fields_begin_ = lf + 1;
        in_fields_ = true;
      }
    } else if (empty_line) {
      head_end_ = lf + 1;
      return status_ = ParseStatus::kHeadComplete;
    } else if (++field_lines_ > limits_.max_headers) {
      return fail(statuses_.header_section_too_large, "too many headers");
    }
    line_begin_ = lf + 1;
  }
  // The line still arriving must already fit.
  if (!in_fields_) {
    if (bytes.size() > max_start_line) {
      return fail(statuses_.start_line_too_long, statuses_.start_line_too_long_reason);
    }
  } else if (bytes.size() - fields_begin_ > limits_.max_header_bytes) {
    return fail(statuses_.header_section_too_large, "header section too large");
  }
  return ParseStatus::kNeedMore;
}

}  // namespace halyard::proxy::http
