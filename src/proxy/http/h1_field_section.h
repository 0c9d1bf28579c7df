// Splits an HTTP/1.1 header section into HeaderViews (RFC 9112 §5) and, in the same pass,
// collects the fields that decide framing and connection reuse. Shared by both parsers.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/http/h1_types.h"
#include "proxy/http/request_view.h"

namespace halyard::proxy::http {

struct FieldSummary {
  size_t host_count = 0;
  std::string_view host;  // the first Host value
  bool has_content_length = false;
  uint64_t content_length = 0;  // every Content-Length value agreed on this one
  bool has_transfer_encoding = false;
  size_t chunked_count = 0;       // "chunked" codings across all Transfer-Encoding lines
  bool chunked_is_final = false;  // the last transfer coding is "chunked"
  bool has_other_coding = false;  // some transfer coding other than "chunked"
  bool connection_close = false;  // Connection options, RFC 9110 §7.6.1
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool has_upgrade = false;
  std::string_view upgrade;  // the first Upgrade value
  bool expect_continue = false;
};

// `section` holds the field lines, each ending in CRLF, without the final empty line; the
// HeadScanner has already checked the line endings and the limits, so `headers` (reserved for
// the maximum by the caller) never reallocates. Names are lowercased in place. Returns false
// with `error` set (status `malformed_status`) on the first invalid line.
bool parseFieldSection(std::span<char> section, uint16_t malformed_status,
                       std::vector<HeaderView>& headers, FieldSummary& summary, ParseError& error);

// RFC 9110 §8.6: 1*DIGIT; a list of identical values ("5, 5") is accepted as that value.
// Returns false for anything else: empty, a sign, non-digits, differing values, overflow.
bool parseContentLength(std::string_view value, uint64_t& length);

}  // namespace halyard::proxy::http
