// The JSON string escaper: every byte that needs an escape is escaped wherever it falls in the
// eight-byte steps the escaper skips by, and nothing else changes.
#include "common/json_string.h"

#include <gtest/gtest.h>

#include <string>

namespace halyard::common {
namespace {

std::string escaped(std::string_view v) {
  std::string out;
  appendJsonString(out, v);
  return out;
}

// What the escape of `v` must be, written out byte by byte.
std::string reference(std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

TEST(JsonString, PlainTextIsCopied) {
  EXPECT_EQ(escaped(""), "\"\"");
  EXPECT_EQ(escaped("reviews.default.svc.cluster.local:9080/*"),
            "\"reviews.default.svc.cluster.local:9080/*\"");
  EXPECT_EQ(escaped("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");  // UTF-8 kept
}

// Every length up to two and a half 16-byte blocks, so that the byte falls in each block (or
// 8-byte word) and in the last one, which overlaps the one before it.
TEST(JsonString, EveryByteThatNeedsAnEscapeIsEscapedAtEveryOffset) {
  for (int c = 0; c < 256; ++c) {
    for (size_t size = 1; size <= 40; ++size) {
      for (size_t at = 0; at < size; ++at) {
        std::string v(size, 'a');
        v[at] = static_cast<char>(c);
        ASSERT_EQ(escaped(v), reference(v)) << "byte " << c << " at " << at << " of " << size;
      }
    }
  }
  const std::string mixed = "a\"b\\c\nd\re\tf\x01g\x1fh\x7fi long tail without escapes";
  EXPECT_EQ(escaped(mixed), reference(mixed));
}

}  // namespace
}  // namespace halyard::common
