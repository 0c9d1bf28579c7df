// writeDecimal: the digits std::to_chars writes, for every width, every power of ten and its
// neighbours, and a spread of values; nothing written past max(8, digits) bytes.
#include "common/decimal.h"

#include <gtest/gtest.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <random>
#include <string>

#include "common/json_out.h"

namespace halyard::common {
namespace {

std::string expected(uint64_t v) {
  std::array<char, 24> buffer{};
  const auto end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v).ptr;
  return std::string(buffer.data(), end);
}

std::string written(uint64_t v) {
  std::array<char, 32> buffer;
  buffer.fill('#');
  const size_t n = writeDecimal(v, buffer.data());
  const size_t room = std::max<size_t>(8, n);
  for (size_t i = room; i < buffer.size(); ++i) EXPECT_EQ(buffer[i], '#') << v;
  EXPECT_EQ(n, decimalDigits(v)) << v;
  return std::string(buffer.data(), n);
}

TEST(Decimal, PowersOfTenAndTheirNeighbours) {
  uint64_t p = 1;
  for (int i = 0; i < 20; ++i, p *= 10) {
    for (const uint64_t v : {p - 1, p, p + 1, p + 9, 2 * p - 1, 9 * p}) {
      EXPECT_EQ(written(v), expected(v));
    }
  }
  for (const uint64_t v : {uint64_t{0}, UINT64_MAX, UINT64_MAX - 1, uint64_t{1} << 63}) {
    EXPECT_EQ(written(v), expected(v));
  }
}

TEST(Decimal, EverySmallValueAndASpreadOfWideOnes) {
  for (uint64_t v = 0; v < 200'000; ++v) ASSERT_EQ(written(v), expected(v));
  std::mt19937_64 random(14);
  for (int i = 0; i < 200'000; ++i) {
    const uint64_t v = random() >> (random() % 64);
    ASSERT_EQ(written(v), expected(v));
  }
}

TEST(Decimal, JsonOutPutsTheDigitsInPlace) {
  JsonOut out;
  out.reserve(2 * JsonOut::kDecimalRoom + 1);
  out.putDecimal(1'765'000'000'000'123);
  out.put(',');
  out.putDecimal(0);
  EXPECT_EQ(out.view(), "1765000000000123,0");
}

}  // namespace
}  // namespace halyard::common
