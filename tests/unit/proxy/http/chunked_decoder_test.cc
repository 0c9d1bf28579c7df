#include "proxy/http/chunked_decoder.h"

#include <gtest/gtest.h>

#include <string>

#include "h1_test_util.h"

namespace halyard::proxy::http {
namespace {

using testing::decodeChunked;

// Decoding in one piece and in pieces of 1, 2, 3 and 7 bytes must agree.
testing::Decoded decodeAllWays(std::string_view input, const ChunkedLimits& limits = {}) {
  const testing::Decoded whole = decodeChunked(input, std::string_view::npos, limits);
  for (size_t piece : {1, 2, 3, 7}) {
    const testing::Decoded split = decodeChunked(input, piece, limits);
    EXPECT_EQ(split.status, whole.status) << "piece " << piece;
    EXPECT_EQ(split.body, whole.body) << "piece " << piece;
    EXPECT_EQ(split.consumed, whole.consumed) << "piece " << piece;
    EXPECT_EQ(split.error.reason, whole.error.reason) << "piece " << piece;
  }
  return whole;
}

TEST(ChunkedDecoder, DecodesChunks) {
  const std::string body = "5\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n";
  const testing::Decoded d = decodeAllWays(body);
  EXPECT_EQ(d.status, ChunkedStatus::kDone);
  EXPECT_EQ(d.body, "hello world0123456789");
  EXPECT_EQ(d.consumed, body.size());
}

TEST(ChunkedDecoder, DataIsAViewIntoTheInput) {
  const std::string body = "5\r\nhello\r\n0\r\n\r\n";
  ChunkedDecoder decoder;
  const ChunkedStep step = decoder.decode(body);
  ASSERT_EQ(step.status, ChunkedStatus::kData);
  EXPECT_EQ(step.data, "hello");
  EXPECT_EQ(step.data.data(), body.data() + 3);
  EXPECT_EQ(step.consumed, 8u);
  const ChunkedStep end = decoder.decode(std::span<const char>(body).subspan(8));
  EXPECT_EQ(end.status, ChunkedStatus::kDone);
  EXPECT_EQ(end.consumed, body.size() - 8);
  EXPECT_TRUE(decoder.done());
}

TEST(ChunkedDecoder, StopsAtTheEndOfTheBody) {
  const std::string wire = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  const testing::Decoded d = decodeAllWays(wire);
  EXPECT_EQ(d.status, ChunkedStatus::kDone);
  EXPECT_EQ(d.consumed, wire.find("GET"));
  ChunkedDecoder decoder;
  std::span<const char> rest(wire);
  while (!decoder.done()) rest = rest.subspan(decoder.decode(rest).consumed);
  EXPECT_EQ(decoder.decode(rest).status, ChunkedStatus::kDone);
  EXPECT_EQ(decoder.decode(rest).consumed, 0u);
}

TEST(ChunkedDecoder, NeedsMoreConsumesEverything) {
  ChunkedDecoder decoder;
  const std::string part = "1a;name=val";
  const ChunkedStep step = decoder.decode(part);
  EXPECT_EQ(step.status, ChunkedStatus::kNeedMore);
  EXPECT_EQ(step.consumed, part.size());
}

TEST(ChunkedDecoder, HexDigitsAnyCaseAndLeadingZeros) {
  EXPECT_EQ(decodeAllWays("00a\r\n0123456789\r\n0\r\n\r\n").body, "0123456789");
  EXPECT_EQ(decodeAllWays("0A\r\n0123456789\r\n0\r\n\r\n").body, "0123456789");
  EXPECT_EQ(decodeAllWays("000\r\n\r\n").status, ChunkedStatus::kDone);
}

TEST(ChunkedDecoder, ExtensionsAreAcceptedAndBounded) {
  const testing::Decoded d = decodeAllWays("5;a=1;b=\"q v\"\r\nhello\r\n0;last\r\n\r\n");
  EXPECT_EQ(d.status, ChunkedStatus::kDone);
  EXPECT_EQ(d.body, "hello");
  ChunkedLimits limits;
  limits.max_chunk_line_bytes = 16;
  EXPECT_EQ(decodeAllWays("5;" + std::string(13, 'x') + "\r\nhello\r\n0\r\n\r\n", limits).status,
            ChunkedStatus::kDone);
  const testing::Decoded long_ext =
      decodeAllWays("5;" + std::string(14, 'x') + "\r\nhello\r\n0\r\n\r\n", limits);
  EXPECT_EQ(long_ext.status, ChunkedStatus::kError);
  EXPECT_EQ(long_ext.error.reason, "chunk size line too long");
  // The default bound applies without a CRLF ever arriving.
  EXPECT_EQ(decodeChunked("5;" + std::string(5000, 'x')).status, ChunkedStatus::kError);
  EXPECT_EQ(decodeAllWays("5;a\x01\r\nhello\r\n0\r\n\r\n").status, ChunkedStatus::kError);
  EXPECT_EQ(decodeAllWays("5;a\nhello\r\n0\r\n\r\n").status, ChunkedStatus::kError);
}

TEST(ChunkedDecoder, BadChunkSizes) {
  for (const char* bad : {"0x5\r\n", "x\r\n", "-1\r\n", "+1\r\n", "\r\n", ";ext\r\n", "g\r\n",
                          " 5\r\n", "5 \r\n", "5\t\r\n", "5\n", "5\r\r\n"}) {
    const testing::Decoded d = decodeAllWays(bad);
    EXPECT_EQ(d.status, ChunkedStatus::kError) << bad;
    EXPECT_EQ(d.error.status, 400) << bad;
  }
}

TEST(ChunkedDecoder, ChunkSizeBounds) {
  // The largest size accepted: waiting for its data.
  EXPECT_EQ(decodeAllWays("3fffffffffffffff\r\nabc").status, ChunkedStatus::kNeedMore);
  const testing::Decoded d = decodeAllWays("4000000000000000\r\n");
  EXPECT_EQ(d.status, ChunkedStatus::kError);
  EXPECT_EQ(d.error.reason, "chunk size too large");
  EXPECT_EQ(decodeAllWays("ffffffffffffffffffff\r\n").status, ChunkedStatus::kError);
  // Leading zeros never overflow but still count towards the line bound.
  EXPECT_EQ(decodeAllWays(std::string(100, '0') + "5\r\nhello\r\n0\r\n\r\n").body, "hello");
  EXPECT_EQ(decodeAllWays(std::string(5000, '0') + "5\r\n").status, ChunkedStatus::kError);
}

TEST(ChunkedDecoder, DataMustEndWithCrlf) {
  EXPECT_EQ(decodeAllWays("5\r\nhelloX\r\n0\r\n\r\n").status, ChunkedStatus::kError);
  EXPECT_EQ(decodeAllWays("5\r\nhello\rX0\r\n\r\n").status, ChunkedStatus::kError);
  EXPECT_EQ(decodeAllWays("5\r\nhello\n0\r\n\r\n").status, ChunkedStatus::kError);
  EXPECT_EQ(decodeAllWays("5\r\nhello world\r\n0\r\n\r\n").status, ChunkedStatus::kError);
}

TEST(ChunkedDecoder, TrailersAreValidatedAndDiscarded) {
  const testing::Decoded d =
      decodeAllWays("2\r\nok\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\nnext");
  EXPECT_EQ(d.status, ChunkedStatus::kDone);
  EXPECT_EQ(d.body, "ok");
  EXPECT_EQ(d.consumed, 39u);
  for (const char* bad :
       {"0\r\n X: 1\r\n\r\n", "0\r\nX : 1\r\n\r\n", "0\r\nNoColon\r\n\r\n", "0\r\nX: 1\n\r\n",
        "0\r\nX: 1\r\n\n", "0\r\n\n", "0\r\n:x\r\n\r\n", "0\r\nX: a\x01\r\n\r\n"}) {
    EXPECT_EQ(decodeAllWays(bad).status, ChunkedStatus::kError) << bad;
  }
  ChunkedLimits limits;
  limits.max_trailer_bytes = 10;
  // The bound covers the field lines and the final CRLF.
  EXPECT_EQ(decodeAllWays("0\r\nX: 123\r\n\r\n", limits).status, ChunkedStatus::kDone);
  const testing::Decoded big = decodeAllWays("0\r\nX: 1234\r\n\r\n", limits);
  EXPECT_EQ(big.status, ChunkedStatus::kError);
  EXPECT_EQ(big.error.reason, "trailer section too large");
}

TEST(ChunkedDecoder, ErrorIsStickyUntilReset) {
  ChunkedDecoder decoder;
  const std::string bad = "z\r\n";
  EXPECT_EQ(decoder.decode(bad).status, ChunkedStatus::kError);
  const std::string good = "0\r\n\r\n";
  const ChunkedStep again = decoder.decode(good);
  EXPECT_EQ(again.status, ChunkedStatus::kError);
  EXPECT_EQ(again.consumed, 0u);
  decoder.reset();
  EXPECT_EQ(decoder.decode(good).status, ChunkedStatus::kDone);
}

}  // namespace
}  // namespace halyard::proxy::http
