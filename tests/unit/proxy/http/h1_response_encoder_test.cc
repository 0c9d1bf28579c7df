#include "proxy/http/h1_response_encoder.h"

#include <gtest/gtest.h>

#include <string>

namespace halyard::proxy::http {
namespace {

std::string encode(ResponseEncoder& encoder, uint16_t status, const ResponseFraming& framing) {
  std::string out;
  encoder.beginHead(status, "Whatever", out);
  encoder.header("x-a", "1", out);
  encoder.endHead(framing, out);
  return out;
}

TEST(H1ResponseEncoder, ContentLengthBodyHasNoFraming) {
  H1ResponseEncoder e;
  EXPECT_EQ(encode(e, 200, {.body = BodyKind::kContentLength, .content_length = 5}),
            "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\n\r\n");
  const DataFrame f = e.data(5);
  EXPECT_TRUE(f.prefix.empty());
  EXPECT_TRUE(f.suffix.empty());
  EXPECT_TRUE(e.end().empty());
}

TEST(H1ResponseEncoder, StreamedBodyIsChunked) {
  H1ResponseEncoder e;
  EXPECT_EQ(encode(e, 200, {.body = BodyKind::kChunked}),
            "HTTP/1.1 200 OK\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n");
  const DataFrame f = e.data(300);
  EXPECT_EQ(f.prefix, "12c\r\n");
  EXPECT_EQ(f.suffix, "\r\n");
  EXPECT_EQ(e.end(), "0\r\n\r\n");
  // The next response on the connection starts unchunked again.
  encode(e, 204, {});
  EXPECT_TRUE(e.end().empty());
}

TEST(H1ResponseEncoder, UnknownStatusKeepsTheUpstreamReason) {
  H1ResponseEncoder e;
  EXPECT_EQ(encode(e, 599, {.close = true}),
            "HTTP/1.1 599 Whatever\r\nx-a: 1\r\nconnection: close\r\n\r\n");
}

TEST(H1ResponseEncoder, HeadAnswerKeepsTheDescribedLength) {
  H1ResponseEncoder e;
  EXPECT_EQ(encode(e, 200, {.described_length = "42", .http10_keep_alive = true}),
            "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 42\r\nconnection: keep-alive\r\n\r\n");
}

TEST(H1ResponseEncoder, UpgradeNamesTheProtocol) {
  H1ResponseEncoder e;
  EXPECT_EQ(encode(e, 101, {.upgrade = "websocket"}),
            "HTTP/1.1 101 Switching Protocols\r\nx-a: 1\r\nconnection: upgrade\r\nupgrade: "
            "websocket\r\n\r\n");
}

}  // namespace
}  // namespace halyard::proxy::http
