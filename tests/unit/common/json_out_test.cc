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
