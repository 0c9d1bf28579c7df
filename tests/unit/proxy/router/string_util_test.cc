#include "proxy/router/string_util.h"

#include <gtest/gtest.h>

#include <string>

namespace halyard::proxy::router {
namespace {

// The word-at-a-time comparison against the byte-at-a-time definition, at every length and
// offset of a difference, with the bytes around the letter ranges ('@' '[' '`' '{') and bytes
// above 0x7f, which must never be taken for letters.
TEST(EqualsIgnoreCase, AgreesWithTheByteDefinitionAtEveryLength) {
  const std::string alphabet = "aZ@[`{09.-:\xc1\xe1\x80\xff";
  auto byteWise = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
    }
    return true;
  };
  for (size_t length = 0; length <= 40; ++length) {
    std::string a;
    for (size_t i = 0; i < length; ++i) a.push_back(alphabet[(i * 7) % alphabet.size()]);
    std::string upper = a;
    for (char& c : upper) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    }
    EXPECT_TRUE(equalsIgnoreCase(a, upper)) << length;
    for (size_t at = 0; at < length; ++at) {
      for (char other : alphabet) {
        std::string b = a;
        b[at] = other;
        EXPECT_EQ(equalsIgnoreCase(a, b), byteWise(a, b)) << length << " " << at;
      }
    }
  }
}

TEST(LowerAscii8, LowersLettersOnly) {
  for (int c = 0; c < 256; ++c) {
    const uint64_t word = 0x0101010101010101ull * static_cast<uint8_t>(c);
    const uint64_t want =
        0x0101010101010101ull * static_cast<uint8_t>(lowerAscii(static_cast<char>(c)));
    EXPECT_EQ(lowerAscii8(word), want) << c;
  }
}

}  // namespace
}  // namespace halyard::proxy::router
