// The word-at-a-time field-value check agrees with the byte table for every byte at every offset
// of the eight-byte steps (and in the tail the steps leave).
#include "proxy/http/h1_syntax.h"

#include <gtest/gtest.h>

#include <string>

namespace halyard::proxy::http::syntax {
namespace {

TEST(H1Syntax, FieldValueCheckAgreesWithTheByteTableEverywhere) {
  for (int c = 0; c < 256; ++c) {
    for (size_t size : {1u, 7u, 8u, 19u}) {
      for (size_t at = 0; at < size; ++at) {
        std::string v(size, 'a');
        v[at] = static_cast<char>(c);
        ASSERT_EQ(isFieldValue(v), isFieldValueChar(static_cast<char>(c)))
            << "byte " << c << " at " << at << " of " << size;
      }
    }
  }
  EXPECT_TRUE(isFieldValue(""));
  EXPECT_TRUE(isFieldValue("text/html;\tq=0.9, caf\xc3\xa9"));
  EXPECT_FALSE(isFieldValue(std::string("abcdefgh\x7fijk")));
  EXPECT_FALSE(isFieldValue(std::string("abcdefghij\0k", 12)));
}

TEST(H1Syntax, LineBreaksAndNulAreFoundEverywhere) {
  for (int c = 0; c < 256; ++c) {
    for (size_t size : {1u, 8u, 13u}) {
      for (size_t at = 0; at < size; ++at) {
        std::string v(size, 'a');
        v[at] = static_cast<char>(c);
        ASSERT_EQ(hasLineBreakOrNul(v), c == '\r' || c == '\n' || c == 0)
            << "byte " << c << " at " << at << " of " << size;
      }
    }
  }
  EXPECT_FALSE(hasLineBreakOrNul(""));
}

}  // namespace
}  // namespace halyard::proxy::http::syntax
