#include "proxy/http/h1_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "h1_test_util.h"

namespace halyard::proxy::http {
namespace {

TEST(H1Writer, RequestHead) {
  std::string out;
  const std::vector<HeaderView> headers = {{"host", "shop.example.com"}, {"x-request-id", "42"}};
  ASSERT_TRUE(appendRequestHead(out, "POST", "/cart?id=1", headers));
  EXPECT_EQ(out, "POST /cart?id=1 HTTP/1.1\r\nhost: shop.example.com\r\nx-request-id: 42\r\n\r\n");
}

TEST(H1Writer, ResponseHead) {
  std::string out;
  const std::vector<HeaderView> headers = {{"content-length", "0"}};
  ASSERT_TRUE(appendResponseHead(out, 404, headers));
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
  out.clear();
  ASSERT_TRUE(appendResponseHead(out, 599, {}));
  EXPECT_EQ(out, "HTTP/1.1 599 \r\n\r\n");
  out.clear();
  appendStatusLine(out, 200, "Fine\r\nX: y");
  EXPECT_EQ(out, "HTTP/1.1 200 Fine  X: y\r\n");
}

TEST(H1Writer, ReasonPhrases) {
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(reasonPhrase(299), "");
}

TEST(H1Writer, RefusesWhatWouldSplitTheMessage) {
  std::string out;
  EXPECT_FALSE(appendHeader(out, "x-bad name", "v"));
  EXPECT_FALSE(appendHeader(out, "x-bad\r\nname", "v"));
  EXPECT_FALSE(appendHeader(out, "", "v"));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(appendRequestLine(out, "GET", "/a b"));
  EXPECT_FALSE(appendRequestLine(out, "GET", "/a\r\nX: 1"));
  EXPECT_FALSE(appendRequestLine(out, "GE T", "/"));
  EXPECT_FALSE(appendRequestLine(out, "GET", ""));
  EXPECT_TRUE(out.empty());
  const std::vector<HeaderView> headers = {{"ok", "1"}, {"bad name", "2"}};
  EXPECT_FALSE(appendRequestHead(out, "GET", "/", headers));
}

TEST(H1Writer, SanitizesValues) {
  std::string out;
  ASSERT_TRUE(appendHeader(out, "x-v", std::string_view("a\r\nb\0c", 6)));
  EXPECT_EQ(out, "x-v: a  b c\r\n");
}

TEST(H1Writer, ChunkHeaders) {
  EXPECT_EQ(chunkHeader(1).view(), "1\r\n");
  EXPECT_EQ(chunkHeader(255).view(), "ff\r\n");
  EXPECT_EQ(chunkHeader(0x1000).view(), "1000\r\n");
  EXPECT_EQ(chunkHeader(0xffffffffffffffffULL).view(), "ffffffffffffffff\r\n");
  std::string out;
  appendChunkHeader(out, 5);
  out.append("hello").append(kChunkEnd).append(kLastChunk);
  EXPECT_EQ(out, "5\r\nhello\r\n0\r\n\r\n");
}

TEST(H1Writer, RoundTripsThroughTheParsers) {
  std::string out;
  const std::vector<HeaderView> headers = {{"host", "a.local"}, {"transfer-encoding", "chunked"}};
  ASSERT_TRUE(appendRequestHead(out, "PUT", "/up", headers));
  const std::string zs(300, 'z');
  for (std::string_view piece :
       {std::string_view("abc"), std::string_view("de"), std::string_view(zs)}) {
    appendChunkHeader(out, piece.size());
    out.append(piece).append(kChunkEnd);
  }
  out.append(kLastChunk);
  RequestParser parser;
  ASSERT_EQ(parser.feed(std::span<char>(out.data(), out.size())), ParseStatus::kHeadComplete);
  EXPECT_EQ(parser.head().path, "/up");
  ASSERT_EQ(parser.head().framing.kind, BodyKind::kChunked);
  const testing::Decoded d =
      testing::decodeChunked(std::string_view(out).substr(parser.head().head_bytes));
  EXPECT_EQ(d.status, ChunkedStatus::kDone);
  EXPECT_EQ(d.body, "abcde" + std::string(300, 'z'));
}

TEST(H1Writer, ReusedBufferDoesNotReallocate) {
  std::string out;
  out.reserve(4096);
  const std::vector<HeaderView> headers = {{"host", "a"}, {"x", std::string_view("0123456789")}};
  ASSERT_TRUE(appendRequestHead(out, "GET", "/", headers));
  const char* data = out.data();
  const size_t capacity = out.capacity();
  for (int i = 0; i < 100; ++i) {
    out.clear();
    ASSERT_TRUE(appendRequestHead(out, "GET", "/", headers));
    appendChunkHeader(out, 1234);
  }
  EXPECT_EQ(out.data(), data);
  EXPECT_EQ(out.capacity(), capacity);
}

}  // namespace
}  // namespace halyard::proxy::http
