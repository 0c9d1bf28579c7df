#include "proxy/http/h1_response_parser.h"

#include "proxy/http/h1_field_section.h"
#include "proxy/http/h1_syntax.h"

namespace halyard::proxy::http {

namespace {

constexpr uint16_t kBadGateway = 502;
constexpr HeadScanner::Statuses kResponseStatuses{kBadGateway, "status line too long", kBadGateway,
                                                  kBadGateway};

}  // namespace

ResponseParser::ResponseParser(const ParserLimits& limits)
    : scanner_(limits, kResponseStatuses), max_headers_(limits.max_headers) {}

void ResponseParser::reset(std::string_view request_method) {
  scanner_.reset();
  headers_.clear();
  request_was_head_ = request_method == "HEAD";
  request_was_connect_ = request_method == "CONNECT";
  head_ = ResponseHead{};
  error_ = ParseError{};
  status_ = ParseStatus::kNeedMore;
}

ParseStatus ResponseParser::fail(std::string_view reason) {
  error_ = ParseError{kBadGateway, reason};
  return status_ = ParseStatus::kError;
}

ParseStatus ResponseParser::feed(std::span<char> buffer) {
  if (status_ != ParseStatus::kNeedMore) return status_;
  // Reserved here rather than at construction: a connection that never parses a head (a stream
  // of an HTTP/2 connection, whose heads come parsed) never pays for it.
  if (headers_.capacity() < max_headers_) headers_.reserve(max_headers_);
  switch (scanner_.scan(std::string_view(buffer.data(), buffer.size()))) {
    case ParseStatus::kNeedMore:
      return ParseStatus::kNeedMore;
    case ParseStatus::kError:
      return fail(scanner_.error().reason);
    case ParseStatus::kHeadComplete:
      break;
  }
  return status_ = parseHead(buffer);
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. The SP before
// an empty reason is often missing in practice and carries nothing, so it is optional.
bool ResponseParser::parseStatusLine(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !syntax::isDigit(line[5]) ||
      line[6] != '.' || !syntax::isDigit(line[7]) || line[8] != ' ') {
    fail("malformed status line");
    return false;
  }
  if (line[5] != '1') {
    fail("unsupported HTTP version");
    return false;
  }
  head_.version = line[7] == '0' ? HttpVersion::kHttp10 : HttpVersion::kHttp11;
  uint16_t status = 0;
  for (char c : line.substr(9, 3)) {
    if (!syntax::isDigit(c)) {
      fail("malformed status code");
      return false;
    }
    status = static_cast<uint16_t>(status * 10 + (c - '0'));
  }
  // RFC 9110 §15: values outside 100..599 are invalid.
  if (status < 100 || status > 599) {
    fail("status code out of range");
    return false;
  }
  head_.status = status;
  if (line.size() > 12) {
    if (line[12] != ' ') {
      fail("malformed status line");
      return false;
    }
    head_.reason = line.substr(13);
    for (char c : head_.reason) {
      if (!syntax::isFieldValueChar(c)) {
        fail("invalid character in reason phrase");
        return false;
      }
    }
  }
  return true;
}

ParseStatus ResponseParser::parseHead(std::span<char> buffer) {
  const std::string_view bytes(buffer.data(), buffer.size());
  if (!parseStatusLine(bytes.substr(scanner_.startLineBegin(),
                                    scanner_.startLineEnd() - scanner_.startLineBegin()))) {
    return status_;
  }
  const size_t fields_begin = scanner_.fieldsBegin();
  FieldSummary fields;
  // RFC 9112 §5.2: a proxy receiving obs-fold in a response may answer 502 instead of
  // unfolding; the shared field parser rejects it.
  if (!parseFieldSection(buffer.subspan(fields_begin, scanner_.headEnd() - 2 - fields_begin),
                         kBadGateway, headers_, fields, error_)) {
    return fail(error_.reason);
  }
  const bool http11 = head_.version == HttpVersion::kHttp11;
  const uint16_t status = head_.status;
  head_.headers = headers_;
  head_.head_bytes = scanner_.headEnd();
  head_.keep_alive = !fields.connection_close && (http11 || fields.connection_keep_alive);

  // RFC 9112 §6.3, in its order.
  if (status == 101 || (request_was_connect_ && status >= 200 && status < 300)) {  // rule 2
    head_.tunnel = true;
    head_.keep_alive = false;
    if (status == 101) head_.upgrade_protocol = fields.upgrade;
    return ParseStatus::kHeadComplete;
  }
  if (request_was_head_ || status < 200 || status == 204 || status == 304) {  // rule 1
    head_.interim = status < 200;
    return ParseStatus::kHeadComplete;
  }
  if (fields.has_transfer_encoding) {
    // Rule 3 lets Transfer-Encoding override Content-Length but calls the pair a likely
    // smuggling or splitting attempt; the proxy refuses it instead of picking one.
    if (fields.has_content_length) return fail("both content-length and transfer-encoding");
    // §6.1: Transfer-Encoding in an HTTP/1.0 message means its framing is faulty.
    if (!http11) return fail("transfer-encoding in an HTTP/1.0 response");
    // Rule 4 would read a body whose final coding is not chunked until close, but the proxy
    // implements only chunked and could not forward other codings faithfully.
    if (fields.has_other_coding || fields.chunked_count != 1) {
      return fail("unsupported transfer coding");
    }
    head_.framing = BodyFraming{BodyKind::kChunked, 0};
  } else if (fields.has_content_length) {  // rule 6 (rule 5 is the invalid values, rejected)
    head_.framing = BodyFraming{BodyKind::kContentLength, fields.content_length};
  } else {  // rule 8
    head_.framing = BodyFraming{BodyKind::kUntilClose, 0};
    head_.keep_alive = false;
  }
  return ParseStatus::kHeadComplete;
}

}  // namespace halyard::proxy::http
