#include "proxy/http/h1_request_parser.h"

#include "proxy/http/h1_field_section.h"
#include "proxy/http/h1_syntax.h"

namespace halyard::proxy::http {

namespace {

constexpr HeadScanner::Statuses kRequestStatuses{414, "request line too long", 431, 400};

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && syntax::equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

}  // namespace

RequestParser::RequestParser(const ParserLimits& limits)
    : scanner_(limits, kRequestStatuses), max_headers_(limits.max_headers) {}

void RequestParser::reset() {
  scanner_.reset();
  headers_.clear();
  head_ = RequestHead{};
  error_ = ParseError{};
  status_ = ParseStatus::kNeedMore;
}

ParseStatus RequestParser::fail(uint16_t status, std::string_view reason) {
  error_ = ParseError{status, reason};
  return status_ = ParseStatus::kError;
}

ParseStatus RequestParser::feed(std::span<char> buffer) {
  if (status_ != ParseStatus::kNeedMore) return status_;
  // Reserved here rather than at construction: a connection that never parses a head (a stream
  // of an HTTP/2 connection, whose heads come parsed) never pays for it.
  if (headers_.capacity() < max_headers_) headers_.reserve(max_headers_);
  switch (scanner_.scan(std::string_view(buffer.data(), buffer.size()))) {
    case ParseStatus::kNeedMore:
      return ParseStatus::kNeedMore;
    case ParseStatus::kError:
      return fail(scanner_.error().status, scanner_.error().reason);
    case ParseStatus::kHeadComplete:
      break;
  }
  return status_ = parseHead(buffer);
}

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single spaces.
bool RequestParser::parseRequestLine(std::string_view line) {
  const size_t method_end = line.find(' ');
  if (method_end == std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  head_.method = line.substr(0, method_end);
  if (!syntax::isToken(head_.method)) {
    fail(400, "invalid method");
    return false;
  }
  const std::string_view rest = line.substr(method_end + 1);
  const size_t target_end = rest.find(' ');
  if (target_end == std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  head_.target = rest.substr(0, target_end);
  if (head_.target.empty()) {
    fail(400, "empty request target");
    return false;
  }
  for (char c : head_.target) {
    if (!syntax::isTargetChar(c)) {
      fail(400, "invalid character in request target");
      return false;
    }
  }
  // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  const std::string_view version = rest.substr(target_end + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !syntax::isDigit(version[5]) ||
      version[6] != '.' || !syntax::isDigit(version[7])) {
    fail(400, "malformed HTTP version");
    return false;
  }
  // RFC 9110 §2.5: a higher minor version of a major version we implement is processed as the
  // highest minor we implement; other majors are 505 (RFC 9110 §15.6.6).
  if (version[5] != '1') {
    fail(505, "unsupported HTTP version");
    return false;
  }
  head_.version = version[7] == '0' ? HttpVersion::kHttp10 : HttpVersion::kHttp11;
  return parseTarget();
}

// RFC 9112 §3.2: the four forms of request-target.
bool RequestParser::parseTarget() {
  const std::string_view target = head_.target;
  if (head_.method == "CONNECT") {
    // §3.2.3: CONNECT takes authority-form (host:port) and nothing else.
    if (!syntax::isAuthority(target)) {
      fail(400, "CONNECT target is not an authority");
      return false;
    }
    head_.authority = target;
    return true;
  }
  if (target.front() == '/') {  // §3.2.1 origin-form
    head_.path = target;
    return true;
  }
  if (target == "*") {  // §3.2.4 asterisk-form, OPTIONS only
    if (head_.method != "OPTIONS") {
      fail(400, "asterisk-form target is only allowed for OPTIONS");
      return false;
    }
    head_.path = target;
    return true;
  }
  // §3.2.2 absolute-form, sent to proxies. RFC 9110 §4.2.4 deprecates userinfo in http(s)
  // URIs; '@' fails the authority check, which rejects it.
  std::string_view rest;
  if (startsWithIgnoreCase(target, "http://")) {
    rest = target.substr(7);
  } else if (startsWithIgnoreCase(target, "https://")) {
    rest = target.substr(8);
  } else {
    fail(400, "invalid request target");
    return false;
  }
  const size_t authority_end = rest.find_first_of("/?");
  head_.authority = rest.substr(0, authority_end);
  if (head_.authority.empty() || !syntax::isAuthority(head_.authority)) {
    fail(400, "invalid authority in absolute-form target");
    return false;
  }
  head_.path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (head_.path.empty()) {
    head_.path = "/";  // RFC 9110 §4.2.3: an empty path is equivalent to "/"
  } else if (head_.path.front() == '?') {
    // "http://h?q" means "/?q", which is not a contiguous view of the buffer; clients do not
    // send it, so it is rejected rather than copied.
    fail(400, "absolute-form target with a query but no path");
    return false;
  }
  return true;
}

ParseStatus RequestParser::parseHead(std::span<char> buffer) {
  const std::string_view bytes(buffer.data(), buffer.size());
  if (!parseRequestLine(bytes.substr(scanner_.startLineBegin(),
                                     scanner_.startLineEnd() - scanner_.startLineBegin()))) {
    return status_;
  }
  const size_t fields_begin = scanner_.fieldsBegin();
  FieldSummary fields;
  if (!parseFieldSection(buffer.subspan(fields_begin, scanner_.headEnd() - 2 - fields_begin), 400,
                         headers_, fields, error_)) {
    return fail(error_.status, error_.reason);
  }
  const bool http11 = head_.version == HttpVersion::kHttp11;

  // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, for more than one Host, and for
  // an invalid Host value.
  if (fields.host_count > 1) return fail(400, "multiple host headers");
  if (http11 && fields.host_count == 0) return fail(400, "missing host header");
  if (!syntax::isAuthority(fields.host)) return fail(400, "invalid host header");
  head_.host = fields.host;
  if (head_.authority.empty()) head_.authority = fields.host;

  if (fields.has_transfer_encoding) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means its framing is faulty.
    if (!http11) return fail(400, "transfer-encoding in an HTTP/1.0 request");
    // §6.1 allows rejecting Content-Length with Transfer-Encoding; the two disagreeing about
    // where the body ends is request smuggling, so it is always rejected.
    if (fields.has_content_length) return fail(400, "both content-length and transfer-encoding");
    // §6.3 rule 4: if chunked is not the final coding the length cannot be determined: 400.
    if (!fields.chunked_is_final) return fail(400, "transfer-encoding does not end in chunked");
    // §6.1: a sender MUST NOT apply chunked more than once.
    if (fields.chunked_count > 1) return fail(400, "chunked applied more than once");
    // §6.1: a transfer coding the server does not implement is 501. Only chunked is
    // implemented: forwarding e.g. "gzip, chunked" would need the coding re-applied upstream.
    if (fields.has_other_coding) return fail(501, "unsupported transfer coding");
    head_.framing = BodyFraming{BodyKind::kChunked, 0};
  } else if (fields.has_content_length) {
    head_.framing = BodyFraming{BodyKind::kContentLength, fields.content_length};
  }  // §6.3 rule 7: neither means no body.

  head_.keep_alive = !fields.connection_close && (http11 || fields.connection_keep_alive);
  head_.expect_continue = http11 && fields.expect_continue;
  head_.upgrade = http11 && fields.connection_upgrade && fields.has_upgrade;
  if (head_.upgrade) head_.upgrade_protocol = fields.upgrade;
  head_.headers = headers_;
  head_.head_bytes = scanner_.headEnd();
  return ParseStatus::kHeadComplete;
}

RequestView toRequestView(const RequestHead& head, std::string_view scheme,
                          uint16_t listener_port) {
  RequestView view;
  view.method = head.method;
  view.path = head.path;
  view.authority = head.authority;
  view.scheme = scheme;
  view.listener_port = listener_port;
  view.headers = head.headers;
  return view;
}

}  // namespace halyard::proxy::http
