// Request smuggling: every way two parsers could disagree about where a request body ends
// must be rejected, not guessed (RFC 9112 §6.1, §6.3, §7.1; RFC 9110 §8.6).
#include <gtest/gtest.h>

#include <string>

#include "h1_test_util.h"

namespace halyard::proxy::http {
namespace {

using testing::decodeChunked;
using testing::parseRequest;
using testing::parseRequestByteByByte;

struct Case {
  const char* name;
  std::string headers;  // field lines after Host, each ending in CRLF
  uint16_t status;      // 0: accepted
};

class FramingHeaders : public ::testing::TestWithParam<Case> {};

TEST_P(FramingHeaders, Verdict) {
  const Case& c = GetParam();
  const std::string text = "POST / HTTP/1.1\r\nHost: a\r\n" + c.headers + "\r\n";
  for (auto parse : {parseRequest, parseRequestByteByByte}) {
    auto p = parse(text, ParserLimits{});
    if (c.status == 0) {
      EXPECT_EQ(p->status, ParseStatus::kHeadComplete) << p->error().reason;
    } else {
      ASSERT_EQ(p->status, ParseStatus::kError);
      EXPECT_EQ(p->error().status, c.status) << p->error().reason;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Smuggling, FramingHeaders,
    ::testing::Values(
        // CL.TE / TE.CL: both framings present (RFC 9112 §6.1).
        Case{"ClAndTe", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400},
        Case{"TeAndCl", "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", 400},
        // Duplicate Content-Length: identical accepted, differing rejected (RFC 9110 §8.6).
        Case{"DoubleClSame", "Content-Length: 5\r\nContent-Length: 5\r\n", 0},
        Case{"DoubleClDiffer", "Content-Length: 5\r\nContent-Length: 6\r\n", 400},
        Case{"ClListSame", "Content-Length: 5, 5\r\n", 0},
        Case{"ClListDiffer", "Content-Length: 5, 6\r\n", 400},
        Case{"ClListEmptyElement", "Content-Length: 5,,5\r\n", 400},
        Case{"ClTrailingComma", "Content-Length: 5,\r\n", 400},
        // Invalid Content-Length values.
        Case{"ClNegative", "Content-Length: -5\r\n", 400},
        Case{"ClPlus", "Content-Length: +5\r\n", 400},
        Case{"ClHex", "Content-Length: 0x5\r\n", 400},
        Case{"ClTrailingGarbage", "Content-Length: 5a\r\n", 400},
        Case{"ClInnerSpace", "Content-Length: 5 5\r\n", 400},
        Case{"ClEmpty", "Content-Length:\r\n", 400},
        Case{"ClOverflow", "Content-Length: 18446744073709551616\r\n", 400},
        Case{"ClHugeOverflow", "Content-Length: 99999999999999999999999\r\n", 400},
        Case{"ClLeadingZeros", "Content-Length: 0005\r\n", 0},
        // Transfer-Encoding variants (RFC 9112 §6.1, §6.3 rule 4).
        Case{"TeChunked", "Transfer-Encoding: chunked\r\n", 0},
        Case{"TeChunkedUpper", "Transfer-Encoding: CHUNKED\r\n", 0},
        Case{"TeChunkedPadded", "Transfer-Encoding: \t chunked \t\r\n", 0},
        Case{"TeXchunked", "Transfer-Encoding: xchunked\r\n", 400},
        Case{"TeChunkedX", "Transfer-Encoding: chunkedx\r\n", 400},
        Case{"TeIdentity", "Transfer-Encoding: identity\r\n", 400},
        Case{"TeEmpty", "Transfer-Encoding:\r\n", 400},
        Case{"TeChunkedNotFinal", "Transfer-Encoding: chunked, gzip\r\n", 400},
        Case{"TeChunkedTwice", "Transfer-Encoding: chunked, chunked\r\n", 400},
        Case{"TeChunkedTwiceOnTwoLines",
             "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
        Case{"TeChunkedThenOtherLine", "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
             400},
        Case{"TeGzipChunked", "Transfer-Encoding: gzip, chunked\r\n", 501},
        Case{"TeGzipThenChunkedLine", "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
             501},
        Case{"TeChunkedWithParameter", "Transfer-Encoding: chunked;q=1\r\n", 400},
        Case{"TeWhitespaceBeforeColon", "Transfer-Encoding : chunked\r\n", 400},
        Case{"TeObsFold", "Transfer-Encoding:\r\n chunked\r\n", 400},
        Case{"TeVerticalTab",
             "Transfer-Encoding: \x0b"
             "chunked\r\n",
             400}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Smuggling, TransferEncodingOnHttp10IsRejected) {
  auto p = parseRequest("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(p->status, ParseStatus::kError);
  EXPECT_EQ(p->error().status, 400);
}

TEST(Smuggling, ChunkSizeWithHexPrefixIsRejected) {
  const testing::Decoded d = decodeChunked("0x5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(d.status, ChunkedStatus::kError);
  EXPECT_EQ(d.error.status, 400);
}

TEST(Smuggling, HugeChunkSizeIsRejected) {
  EXPECT_EQ(decodeChunked("FFFFFFFFFFFFFFFFF\r\n").status, ChunkedStatus::kError);
  // 2^64 + 5 wraps to 5 in a parser that ignores overflow; here it is an error.
  EXPECT_EQ(decodeChunked("10000000000000005\r\nhello\r\n0\r\n\r\n").status, ChunkedStatus::kError);
  EXPECT_EQ(decodeChunked("4000000000000000\r\n").status, ChunkedStatus::kError);
}

TEST(Smuggling, ChunkSizeWhitespaceIsRejected) {
  EXPECT_EQ(decodeChunked(" 5\r\nhello\r\n0\r\n\r\n").status, ChunkedStatus::kError);
  EXPECT_EQ(decodeChunked("5 \r\nhello\r\n0\r\n\r\n").status, ChunkedStatus::kError);
  EXPECT_EQ(decodeChunked("5\nhello\r\n0\r\n\r\n").status, ChunkedStatus::kError);
}

// A body that smuggles a second request inside chunk data stays body.
TEST(Smuggling, RequestInsideChunkDataIsBody) {
  const std::string inner = "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
  char size[8];
  snprintf(size, sizeof(size), "%zx", inner.size());
  const std::string body = std::string(size) + "\r\n" + inner + "\r\n0\r\n\r\n";
  const testing::Decoded d = decodeChunked(body, 1);
  ASSERT_EQ(d.status, ChunkedStatus::kDone);
  EXPECT_EQ(d.body, inner);
  EXPECT_EQ(d.consumed, body.size());
}

// A bare LF where a proxy and a server might disagree on the end of the head.
TEST(Smuggling, BareLfInsideHeadIsRejected) {
  auto p = parseRequest("GET / HTTP/1.1\r\nHost: a\r\nX: 1\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(p->status, ParseStatus::kError);
  EXPECT_EQ(p->error().status, 400);
}

}  // namespace
}  // namespace halyard::proxy::http
