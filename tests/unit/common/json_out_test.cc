// JsonOut: pieces written after one reserve land in order, growth keeps what was written, and
// strings are escaped exactly as appendJsonString escapes them.
#include "common/json_out.h"

#include <gtest/gtest.h>

#include <string>

namespace halyard::common {
namespace {

TEST(JsonOut, PiecesAfterOneReserveLandInOrderAndGrowthKeepsThem) {
  JsonOut out;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {  // well past the first allocation
    const std::string value = "v\"" + std::to_string(i) + "\n";
    out.reserve(JsonOut::stringRoom(value.size()) + JsonOut::kDecimalRoom + 2);
    out.put(i == 0 ? '[' : ',');
    out.putString(value);
    out.put(':');
    out.putDecimal(static_cast<uint64_t>(i) * 1'000'003);
    expected += i == 0 ? '[' : ',';
    appendJsonString(expected, value);
    expected += ':' + std::to_string(static_cast<uint64_t>(i) * 1'000'003);
  }
  EXPECT_EQ(out.view(), expected);
  EXPECT_GE(out.capacity(), out.size());

  out.clear();
  EXPECT_EQ(out.size(), 0u);
  out.reserve(JsonOut::kDecimalRoom);
  out.putDecimal(18'446'744'073'709'551'615ull);  // the longest uint64_t fits the room
  EXPECT_EQ(out.view(), "18446744073709551615");
  out.release();
  EXPECT_EQ(out.capacity(), 0u);
}

// Short pieces are copied inline in overlapping words: every size, at every alignment.
TEST(JsonOut, PiecesOfEverySizeLandWhole) {
  const std::string text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";
  for (size_t offset = 0; offset < 8; ++offset) {
    JsonOut out;
    std::string expected;
    out.reserve(offset);
    out.put(std::string_view(text).substr(0, offset));
    expected = text.substr(0, offset);
    for (size_t size = 0; size <= 40; ++size) {
      const std::string_view piece = std::string_view(text).substr(size % 5, size);
      out.reserve(size + 1);
      out.put(piece);
      out.put('|');
      expected.append(piece).push_back('|');
    }
    ASSERT_EQ(out.view(), expected) << "offset " << offset;
  }
}

TEST(JsonOut, StringsAreEscapedAsAppendJsonStringDoes) {
  for (int c = 0; c < 256; ++c) {
    const std::string v = "ab" + std::string(1, static_cast<char>(c)) + "cdefghijkl";
    JsonOut out;
    out.reserve(JsonOut::stringRoom(v.size()));
    out.putString(v);
    std::string reference;
    appendJsonString(reference, v);
    ASSERT_EQ(out.view(), reference) << "byte " << c;
    ASSERT_LE(out.size(), JsonOut::stringRoom(v.size()));
  }
}

}  // namespace
}  // namespace halyard::common
