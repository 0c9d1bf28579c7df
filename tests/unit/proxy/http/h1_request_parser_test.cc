#include "proxy/http/h1_request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "h1_test_util.h"

namespace halyard::proxy::http {
namespace {

using namespace std::string_literals;
using testing::parseRequest;
using testing::parseRequestByteByByte;

// Both one-shot and byte-by-byte parsing must reject `text` with `status`.
void expectRejected(std::string_view text, uint16_t status, const ParserLimits& limits = {}) {
  auto whole = parseRequest(text, limits);
  ASSERT_EQ(whole->status, ParseStatus::kError) << text;
  EXPECT_EQ(whole->error().status, status) << text << " -> " << whole->error().reason;
  EXPECT_FALSE(whole->error().reason.empty());
  auto bytes = parseRequestByteByByte(text, limits);
  ASSERT_EQ(bytes->status, ParseStatus::kError) << text;
  EXPECT_EQ(bytes->error().status, status) << text;
  EXPECT_EQ(bytes->error().reason, whole->error().reason) << text;
}

// Both ways must accept `text`; returns the one-shot result for further checks.
std::unique_ptr<testing::ParsedRequest> expectAccepted(std::string_view text,
                                                       const ParserLimits& limits = {}) {
  auto bytes = parseRequestByteByByte(text, limits);
  EXPECT_EQ(bytes->status, ParseStatus::kHeadComplete) << text << " -> " << bytes->error().reason;
  auto whole = parseRequest(text, limits);
  EXPECT_EQ(whole->status, ParseStatus::kHeadComplete) << text << " -> " << whole->error().reason;
  EXPECT_EQ(bytes->head().head_bytes, whole->head().head_bytes);
  EXPECT_EQ(bytes->head().headers.size(), whole->head().headers.size());
  return whole;
}

TEST(RequestParser, ParsesASimpleGet) {
  auto p = expectAccepted(
      "GET /a/b?x=1 HTTP/1.1\r\nHost: shop.example.com\r\nX-Trace-ID:  abc \t\r\n"
      "Accept: */*\r\n\r\n");
  const RequestHead& h = p->head();
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/a/b?x=1");
  EXPECT_EQ(h.path, "/a/b?x=1");
  EXPECT_EQ(h.authority, "shop.example.com");
  EXPECT_EQ(h.host, "shop.example.com");
  EXPECT_EQ(h.version, HttpVersion::kHttp11);
  ASSERT_EQ(h.headers.size(), 3u);
  EXPECT_EQ(h.headers[0].name, "host");
  EXPECT_EQ(h.headers[1].name, "x-trace-id");
  EXPECT_EQ(h.headers[1].value, "abc");
  EXPECT_EQ(h.headers[2].value, "*/*");
  EXPECT_EQ(h.head_bytes, p->bytes.size());
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_FALSE(h.upgrade);
  EXPECT_EQ(h.framing.kind, BodyKind::kNone);
}

TEST(RequestParser, ViewsPointIntoTheBufferAndNamesAreLoweredInPlace) {
  auto p = parseRequest("GET / HTTP/1.1\r\nHOST: a\r\nX-Mixed-Case: V\r\n\r\n");
  ASSERT_EQ(p->status, ParseStatus::kHeadComplete);
  const char* begin = p->bytes.data();
  const char* end = begin + p->bytes.size();
  for (const HeaderView& h : p->head().headers) {
    EXPECT_GE(h.name.data(), begin);
    EXPECT_LE(h.value.data() + h.value.size(), end);
  }
  EXPECT_EQ(p->bytes, "GET / HTTP/1.1\r\nhost: a\r\nx-mixed-case: V\r\n\r\n");
  EXPECT_EQ(p->head().method.data(), begin);
}

TEST(RequestParser, RequestViewForRouting) {
  auto p =
      parseRequest("POST /api/v1?user=7&x HTTP/1.1\r\nHost: api.local:8080\r\nX-User: 7\r\n\r\n");
  ASSERT_EQ(p->status, ParseStatus::kHeadComplete);
  const RequestView v = toRequestView(p->head(), "https", 443);
  EXPECT_EQ(v.method, "POST");
  EXPECT_EQ(v.pathOnly(), "/api/v1");
  EXPECT_EQ(v.query(), "user=7&x");
  EXPECT_EQ(v.authority, "api.local:8080");
  EXPECT_EQ(v.scheme, "https");
  EXPECT_EQ(v.listener_port, 443);
  EXPECT_EQ(v.header("x-user"), "7");
  EXPECT_FALSE(v.header("x-none").has_value());
}

TEST(RequestParser, NeedsMoreUntilTheEmptyLine) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser parser;
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_EQ(parser.feed(std::span<char>(text.data(), n)), ParseStatus::kNeedMore) << n;
  }
  EXPECT_EQ(parser.feed(std::span<char>(text.data(), text.size())), ParseStatus::kHeadComplete);
  // Idempotent until reset.
  EXPECT_EQ(parser.feed(std::span<char>(text.data(), text.size())), ParseStatus::kHeadComplete);
  parser.reset();
  EXPECT_EQ(parser.feed(std::span<char>(text.data(), 3)), ParseStatus::kNeedMore);
}

TEST(RequestParser, IgnoresEmptyLinesBeforeTheRequestLine) {
  auto p = expectAccepted("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p->head().method, "GET");
  EXPECT_EQ(p->head().head_bytes, p->bytes.size());
}

TEST(RequestParser, HeadBytesStopsAtTheEmptyLine) {
  auto p = expectAccepted("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET");
  EXPECT_EQ(p->head().head_bytes, p->bytes.size() - 6);
  EXPECT_EQ(p->head().framing.kind, BodyKind::kContentLength);
  EXPECT_EQ(p->head().framing.content_length, 3u);
}

TEST(RequestParser, RequestWithoutHeadersOnHttp10) {
  auto p = expectAccepted("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(p->head().version, HttpVersion::kHttp10);
  EXPECT_TRUE(p->head().headers.empty());
  EXPECT_TRUE(p->head().host.empty());
  EXPECT_FALSE(p->head().keep_alive);
}

// --- limits ----------------------------------------------------------------------------

TEST(RequestParser, RequestLineLimitIs414) {
  ParserLimits limits;
  limits.max_request_line_bytes = 64;
  const std::string at_limit = "GET /" + std::string(64 - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(at_limit.size(), 64u);
  expectAccepted(at_limit + "\r\nHost: a\r\n\r\n", limits);
  expectRejected("GET /" + std::string(64 - 13, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, limits);
  // Rejected while still arriving: no LF needed.
  expectRejected("GET /" + std::string(200, 'a'), 414, limits);
}

TEST(RequestParser, DefaultRequestLineLimitIs8KiB) {
  expectRejected("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414);
  expectAccepted("GET /" + std::string(8000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(RequestParser, HeaderSectionLimitIs431) {
  ParserLimits limits;
  limits.max_header_bytes = 100;
  // Field lines + final CRLF: "Host: a\r\n" (9) + "X: <v>\r\n" + "\r\n".
  const std::string fits =
      "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(100 - 9 - 5 - 2, 'v') + "\r\n\r\n";
  expectAccepted(fits, limits);
  const std::string over =
      "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(100 - 9 - 5 - 1, 'v') + "\r\n\r\n";
  expectRejected(over, 431, limits);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(500, 'v'), 431, limits);
}

TEST(RequestParser, DefaultHeaderSectionLimitIs60KiB) {
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 70; ++i)
    big += "X-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  expectRejected(big + "\r\n", 431);
}

TEST(RequestParser, TooManyHeadersIs431) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 1; i < 100; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  expectAccepted(text + "\r\n");  // exactly 100
  expectRejected(text + "X-100: v\r\n\r\n", 431);
  ParserLimits limits;
  limits.max_headers = 2;
  expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n", limits);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 431, limits);
}

TEST(RequestParser, EmptyLinesBeforeTheRequestAreBounded) {
  ParserLimits limits;
  limits.max_request_line_bytes = 64;
  std::string crlfs;
  for (int i = 0; i < 40; ++i) crlfs += "\r\n";
  expectRejected(crlfs + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 414, limits);
}

// --- request line ----------------------------------------------------------------------

TEST(RequestParser, MethodMustBeAToken) {
  expectRejected("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("G\"T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected(" / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("\x16\x03\x01 / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  auto p = expectAccepted("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p->head().method, "M-SEARCH");
}

TEST(RequestParser, MethodIsCaseSensitive) {
  auto p = expectAccepted("get / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p->head().method, "get");
}

TEST(RequestParser, RequestLineNeedsSingleSpaces) {
  expectRejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
  expectRejected("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET /\r\n\r\n", 400);  // HTTP/0.9
  expectRejected("GET\r\nHost: a\r\n\r\n", 400);
}

TEST(RequestParser, Versions) {
  expectRejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
  expectRejected("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
  expectRejected("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505);
  expectRejected("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400);
  auto p = expectAccepted("GET / HTTP/1.2\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p->head().version, HttpVersion::kHttp11);
}

TEST(RequestParser, OriginFormTargetCharacters) {
  expectRejected("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  auto p = expectAccepted("GET /caf\xc3\xa9?q=%20 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p->head().path, "/caf\xc3\xa9?q=%20");
}

TEST(RequestParser, AbsoluteFormIsSplitAndOverridesHost) {
  auto p = expectAccepted("GET http://Shop.Example.com:8080/a?b=1 HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_EQ(p->head().authority, "Shop.Example.com:8080");
  EXPECT_EQ(p->head().path, "/a?b=1");
  EXPECT_EQ(p->head().host, "other");
  auto root = expectAccepted("GET HTTPS://h HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(root->head().authority, "h");
  EXPECT_EQ(root->head().path, "/");
  expectRejected("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  expectRejected("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  expectRejected("GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  expectRejected("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  // Host is still required on HTTP/1.1 (RFC 9112 §3.2).
  expectRejected("GET http://h/ HTTP/1.1\r\n\r\n", 400);
}

TEST(RequestParser, AuthorityFormOnlyForConnect) {
  auto p = expectAccepted("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n");
  EXPECT_EQ(p->head().authority, "db.internal:5432");
  EXPECT_TRUE(p->head().path.empty());
  expectRejected("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  expectRejected("GET db.internal:5432 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

TEST(RequestParser, AsteriskFormOnlyForOptions) {
  auto p = expectAccepted("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(p->head().path, "*");
  expectRejected("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

// --- header fields ---------------------------------------------------------------------

TEST(RequestParser, ObsFoldIsRejected) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", 400);
  // Whitespace between the request line and the first field (RFC 9112 §2.2).
  expectRejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}

TEST(RequestParser, WhitespaceBeforeColonIsRejected) {
  expectRejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 1\r\n\r\n", 400);
}

TEST(RequestParser, HeaderNamesMustBeTokens) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX@Y: 1\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX(Y): 1\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX\0Y: 1\r\n\r\n"s, 400);
  auto p = expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+-.^_`|~: ok\r\n\r\n");
  EXPECT_EQ(p->head().headers[1].name, "x-!#$%&'*+-.^_`|~");
}

TEST(RequestParser, InvalidValueCharactersAreRejected) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400);  // bare CR
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01 b\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400);
  auto p = expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9 \t tab\r\nY:\r\n\r\n");
  EXPECT_EQ(p->head().headers[1].value, "caf\xc3\xa9 \t tab");
  EXPECT_EQ(p->head().headers[2].value, "");
}

// Strict CRLF (see h1_head_scanner.h): a bare LF is rejected as soon as it arrives.
TEST(RequestParser, BareLfIsRejected) {
  expectRejected("GET / HTTP/1.1\nHost: a\n\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
  expectRejected("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  RequestParser parser;
  std::string partial = "GET / HTTP/1.1\n";
  EXPECT_EQ(parser.feed(std::span<char>(partial.data(), partial.size())), ParseStatus::kError);
}

TEST(RequestParser, HostRules) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nX: 1\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400);
  expectRejected("GET / HTTP/1.1\r\nHost: a?x\r\n\r\n", 400);
  auto v6 = expectAccepted("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  EXPECT_EQ(v6->head().authority, "[::1]:8080");
  // RFC 9112 §3.2: an empty Host is what a client sends when the URI has no authority.
  auto empty = expectAccepted("GET / HTTP/1.1\r\nHost:\r\n\r\n");
  EXPECT_EQ(empty->head().authority, "");
}

// --- connection management ------------------------------------------------------------

TEST(RequestParser, KeepAlive) {
  EXPECT_TRUE(expectAccepted("GET / HTTP/1.1\r\nHost: a\r\n\r\n")->head().keep_alive);
  EXPECT_FALSE(
      expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")->head().keep_alive);
  EXPECT_FALSE(expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n")
                   ->head()
                   .keep_alive);
  EXPECT_FALSE(
      expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n")
          ->head()
          .keep_alive);
  EXPECT_FALSE(expectAccepted("GET / HTTP/1.0\r\nHost: a\r\n\r\n")->head().keep_alive);
  EXPECT_TRUE(
      expectAccepted("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")->head().keep_alive);
  EXPECT_FALSE(
      expectAccepted("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")->head().keep_alive);
}

TEST(RequestParser, ExpectContinue) {
  EXPECT_TRUE(expectAccepted(
                  "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n")
                  ->head()
                  .expect_continue);
  EXPECT_TRUE(expectAccepted("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n")
                  ->head()
                  .expect_continue);
  EXPECT_FALSE(
      expectAccepted("PUT / HTTP/1.1\r\nHost: a\r\nExpect: other\r\n\r\n")->head().expect_continue);
  // RFC 9110 §10.1.1: ignored on HTTP/1.0.
  EXPECT_FALSE(
      expectAccepted("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")->head().expect_continue);
}

TEST(RequestParser, Upgrade) {
  auto ws = expectAccepted(
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_TRUE(ws->head().upgrade);
  EXPECT_EQ(ws->head().upgrade_protocol, "websocket");
  EXPECT_FALSE(
      expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")->head().upgrade);
  EXPECT_FALSE(
      expectAccepted("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n")->head().upgrade);
  // RFC 9110 §7.8: ignored on HTTP/1.0.
  EXPECT_FALSE(expectAccepted("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
                   ->head()
                   .upgrade);
}

// --- framing (the smuggling cases are in h1_smuggling_test.cc) ----------------------------

TEST(RequestParser, BodyFraming) {
  auto none = expectAccepted("POST / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(none->head().framing.kind, BodyKind::kNone);
  auto zero = expectAccepted("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(zero->head().framing.kind, BodyKind::kContentLength);
  EXPECT_EQ(zero->head().framing.content_length, 0u);
  auto big =
      expectAccepted("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n");
  EXPECT_EQ(big->head().framing.content_length, 18446744073709551615u);
  auto chunked = expectAccepted("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
  EXPECT_EQ(chunked->head().framing.kind, BodyKind::kChunked);
}

TEST(RequestParser, ErrorsConvertToCommonErrors) {
  auto p = parseRequest("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  ASSERT_EQ(p->status, ParseStatus::kError);
  const common::Error e = toError(p->error(), common::ErrorSource::kDownstream);
  EXPECT_EQ(e.kind, common::ErrorKind::kProtocol);
  EXPECT_EQ(e.source, common::ErrorSource::kDownstream);
  EXPECT_EQ(e.message, "multiple host headers");
  EXPECT_EQ(toError(ParseError{431, "too many headers"}, common::ErrorSource::kDownstream).kind,
            common::ErrorKind::kOverflow);
}

TEST(RequestParser, ErrorIsStickyUntilReset) {
  std::string bad = "GET / HTTP/1.1\nHost: a\r\n\r\n";
  std::string good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser parser;
  EXPECT_EQ(parser.feed(std::span<char>(bad.data(), bad.size())), ParseStatus::kError);
  EXPECT_EQ(parser.feed(std::span<char>(good.data(), good.size())), ParseStatus::kError);
  parser.reset();
  EXPECT_EQ(parser.feed(std::span<char>(good.data(), good.size())), ParseStatus::kHeadComplete);
}

// --- pipelining -------------------------------------------------------------------------

// A connection's loop over one buffer: parse a head, skip its body, parse the next.
TEST(RequestParser, PipelinedRequestsInOneBuffer) {
  std::string wire =
      "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "GET /two HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
      "\r\n"  // a stray CRLF after a body is ignored (RFC 9112 §2.2)
      "GET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  struct Seen {
    std::string path;
    std::string body;
    bool keep_alive;
  };
  std::vector<Seen> seen;
  RequestParser parser;
  size_t offset = 0;
  while (offset < wire.size()) {
    parser.reset();
    ASSERT_EQ(parser.feed(std::span<char>(wire.data() + offset, wire.size() - offset)),
              ParseStatus::kHeadComplete)
        << parser.error().reason;
    const RequestHead& head = parser.head();
    Seen s{std::string(head.path), "", head.keep_alive};
    offset += head.head_bytes;
    if (head.framing.kind == BodyKind::kContentLength) {
      s.body = wire.substr(offset, head.framing.content_length);
      offset += head.framing.content_length;
    } else if (head.framing.kind == BodyKind::kChunked) {
      const testing::Decoded d = testing::decodeChunked(std::string_view(wire).substr(offset));
      ASSERT_EQ(d.status, ChunkedStatus::kDone);
      s.body = d.body;
      offset += d.consumed;
    }
    seen.push_back(s);
  }
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].path, "/one");
  EXPECT_EQ(seen[0].body, "hello");
  EXPECT_EQ(seen[1].path, "/two");
  EXPECT_EQ(seen[2].path, "/three");
  EXPECT_EQ(seen[2].body, "abcde");
  EXPECT_EQ(seen[3].path, "/four");
  EXPECT_FALSE(seen[3].keep_alive);
}

// The same pipeline fed one byte at a time, as a slow client would send it.
TEST(RequestParser, PipelinedRequestsByteByByte) {
  std::string wire =
      "POST /one HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n"
      "GET /two HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser parser;
  ChunkedDecoder decoder;
  std::vector<std::string> paths;
  std::string body;
  size_t head_start = 0;
  bool in_body = false;
  for (size_t end = 1; end <= wire.size(); ++end) {
    if (in_body) {
      const ChunkedStep step = decoder.decode(std::span<const char>(wire.data() + end - 1, 1));
      ASSERT_NE(step.status, ChunkedStatus::kError);
      ASSERT_EQ(step.consumed, 1u);
      if (step.status == ChunkedStatus::kData) body.append(step.data);
      if (step.status == ChunkedStatus::kDone) {
        in_body = false;
        head_start = end;
        parser.reset();
      }
      continue;
    }
    const ParseStatus status =
        parser.feed(std::span<char>(wire.data() + head_start, end - head_start));
    ASSERT_NE(status, ParseStatus::kError);
    if (status == ParseStatus::kHeadComplete) {
      paths.emplace_back(parser.head().path);
      ASSERT_EQ(parser.head().head_bytes, end - head_start);
      if (parser.head().framing.kind == BodyKind::kChunked) {
        in_body = true;
        decoder.reset();
      } else {
        head_start = end;
        parser.reset();
      }
    }
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/one", "/two"}));
  EXPECT_EQ(body, "hello");
}

}  // namespace
}  // namespace halyard::proxy::http
