#include "proxy/http/h1_response_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "h1_test_util.h"

namespace halyard::proxy::http {
namespace {

using testing::parseResponse;

std::unique_ptr<testing::ParsedResponse> expectAccepted(std::string_view text,
                                                        std::string_view method = "GET") {
  auto bytes = parseResponse(text, method, /*byte_by_byte=*/true);
  EXPECT_EQ(bytes->status, ParseStatus::kHeadComplete) << text << " -> " << bytes->error().reason;
  auto whole = parseResponse(text, method);
  EXPECT_EQ(whole->status, ParseStatus::kHeadComplete) << text << " -> " << whole->error().reason;
  EXPECT_EQ(bytes->head().head_bytes, whole->head().head_bytes);
  return whole;
}

void expectRejected(std::string_view text, std::string_view method = "GET") {
  for (bool byte_by_byte : {false, true}) {
    auto p = parseResponse(text, method, byte_by_byte);
    ASSERT_EQ(p->status, ParseStatus::kError) << text;
    EXPECT_EQ(p->error().status, 502) << text;
    EXPECT_FALSE(p->error().reason.empty());
  }
}

TEST(ResponseParser, ParsesAStatusLineAndHeaders) {
  auto p =
      expectAccepted("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nX-Up: Yes \r\n\r\nnot found");
  const ResponseHead& h = p->head();
  EXPECT_EQ(h.version, HttpVersion::kHttp11);
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(h.reason, "Not Found");
  ASSERT_EQ(h.headers.size(), 2u);
  EXPECT_EQ(h.headers[1].name, "x-up");
  EXPECT_EQ(h.headers[1].value, "Yes");
  EXPECT_EQ(h.head_bytes, p->bytes.size() - 9);
  EXPECT_EQ(h.framing.kind, BodyKind::kContentLength);
  EXPECT_EQ(h.framing.content_length, 9u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.interim);
  EXPECT_FALSE(h.tunnel);
}

TEST(ResponseParser, ReasonPhraseIsOptional) {
  EXPECT_EQ(expectAccepted("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")->head().reason, "");
  EXPECT_EQ(expectAccepted("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")->head().reason, "");
  EXPECT_EQ(expectAccepted("HTTP/1.1 200 All  good\t!\r\nContent-Length: 0\r\n\r\n")->head().reason,
            "All  good\t!");
}

TEST(ResponseParser, MalformedStatusLines) {
  expectRejected("HTTP/1.1 20 OK\r\n\r\n");
  expectRejected("HTTP/1.1 2000 OK\r\n\r\n");
  expectRejected("HTTP/1.1 200OK\r\n\r\n");
  expectRejected("HTTP/1.1 099 Low\r\n\r\n");
  expectRejected("HTTP/1.1 600 High\r\n\r\n");
  expectRejected("HTTP/1.1  200 OK\r\n\r\n");
  expectRejected("HTTP/2.0 200 OK\r\n\r\n");
  expectRejected("http/1.1 200 OK\r\n\r\n");
  expectRejected("HTTP/1.1 200 O\x01K\r\n\r\n");
  expectRejected("ICY 200 OK\r\n\r\n");
}

TEST(ResponseParser, NoBodyForHeadAnd1xx204And304) {
  // RFC 9112 §6.3 rule 1: the Content-Length describes the GET response, no body follows.
  auto head = expectAccepted("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD");
  EXPECT_EQ(head->head().framing.kind, BodyKind::kNone);
  EXPECT_TRUE(head->head().keep_alive);
  auto chunked_head =
      expectAccepted("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD");
  EXPECT_EQ(chunked_head->head().framing.kind, BodyKind::kNone);
  EXPECT_EQ(expectAccepted("HTTP/1.1 204 No Content\r\n\r\n")->head().framing.kind,
            BodyKind::kNone);
  EXPECT_EQ(
      expectAccepted("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n")->head().framing.kind,
      BodyKind::kNone);
  auto early = expectAccepted("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
  EXPECT_TRUE(early->head().interim);
  EXPECT_EQ(early->head().framing.kind, BodyKind::kNone);
}

TEST(ResponseParser, ContinueThenFinalResponseOnOneConnection) {
  std::string wire =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  ResponseParser parser;
  parser.reset("PUT");
  ASSERT_EQ(parser.feed(std::span<char>(wire.data(), wire.size())), ParseStatus::kHeadComplete);
  EXPECT_EQ(parser.head().status, 100);
  EXPECT_TRUE(parser.head().interim);
  const size_t offset = parser.head().head_bytes;
  EXPECT_EQ(offset, 25u);
  parser.reset("PUT");
  ASSERT_EQ(parser.feed(std::span<char>(wire.data() + offset, wire.size() - offset)),
            ParseStatus::kHeadComplete);
  EXPECT_EQ(parser.head().status, 201);
  EXPECT_FALSE(parser.head().interim);
  EXPECT_EQ(parser.head().framing.content_length, 2u);
}

TEST(ResponseParser, SwitchingProtocolsIsATunnel) {
  auto p = expectAccepted(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_TRUE(p->head().tunnel);
  EXPECT_FALSE(p->head().interim);
  EXPECT_FALSE(p->head().keep_alive);
  EXPECT_EQ(p->head().upgrade_protocol, "websocket");
  EXPECT_EQ(p->head().framing.kind, BodyKind::kNone);
}

TEST(ResponseParser, ConnectSuccessIsATunnel) {
  auto ok = expectAccepted("HTTP/1.1 200 Connection Established\r\n\r\n", "CONNECT");
  EXPECT_TRUE(ok->head().tunnel);
  auto refused = expectAccepted("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "CONNECT");
  EXPECT_FALSE(refused->head().tunnel);
  EXPECT_EQ(refused->head().framing.kind, BodyKind::kContentLength);
}

TEST(ResponseParser, Framing) {
  auto chunked = expectAccepted("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(chunked->head().framing.kind, BodyKind::kChunked);
  EXPECT_TRUE(chunked->head().keep_alive);
  // RFC 9112 §6.3 rule 8: neither header means the body runs until close.
  auto until_close = expectAccepted("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(until_close->head().framing.kind, BodyKind::kUntilClose);
  EXPECT_FALSE(until_close->head().keep_alive);
  auto same_cl =
      expectAccepted("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(same_cl->head().framing.content_length, 3u);
}

TEST(ResponseParser, AmbiguousFramingIsRejected) {
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n");
  expectRejected("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(ResponseParser, HeaderStrictness) {
  expectRejected("HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\nContent-Length: 0\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nX : 1\r\nContent-Length: 0\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\nContent-Length: 0\n\n");
  expectRejected("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n");
  expectRejected("HTTP/1.1 200 OK\r\nX@: 1\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseParser, Limits) {
  ParserLimits limits;
  limits.max_headers = 1;
  ResponseParser parser(limits);
  parser.reset("GET");
  std::string two = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
  ASSERT_EQ(parser.feed(std::span<char>(two.data(), two.size())), ParseStatus::kError);
  EXPECT_EQ(parser.error().status, 502);
  EXPECT_EQ(parser.error().reason, "too many headers");
  std::string long_line = "HTTP/1.1 200 " + std::string(10000, 'x');
  parser.reset("GET");
  ASSERT_EQ(parser.feed(std::span<char>(long_line.data(), long_line.size())), ParseStatus::kError);
  EXPECT_EQ(parser.error().reason, "status line too long");
}

TEST(ResponseParser, KeepAlive) {
  EXPECT_FALSE(expectAccepted("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                   ->head()
                   .keep_alive);
  EXPECT_FALSE(expectAccepted("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")->head().keep_alive);
  auto p = expectAccepted("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p->head().version, HttpVersion::kHttp10);
  EXPECT_TRUE(p->head().keep_alive);
}

}  // namespace
}  // namespace halyard::proxy::http
