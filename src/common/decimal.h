// Unsigned integers in decimal, eight digits at a time. Span batches write a handful of numbers
// per span (timestamps of 16 to 19 digits, durations, sizes, status codes); std::to_chars spent
// about 280 instructions on a 19-digit timestamp, a pair of digits per division. Here a value
// under 10^8 becomes its eight digits in one 64-bit word (SWAR: the two halves divided in two
// 32-bit lanes, then the four pairs in 16-bit lanes), so that 19 digits take three such words.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace halyard::common {

namespace decimal_detail {

// The eight digits of `v` (< 10^8, with leading zeros) as ASCII in memory order.
inline uint64_t eightDigits(uint64_t v) {
  static_assert(std::endian::native == std::endian::little);
  // Two lanes of four digits: v / 10^4 first in memory (the low lane).
  const uint64_t x = v / 10'000 | (v % 10'000) << 32;
  // x / 100 in each lane: exact for x < 10^4 (10486 / 2^20 overshoots 1/100 by < 2.3e-7).
  const uint64_t hundreds = ((x * 10'486) >> 20) & 0x0000'007f'0000'007fULL;
  const uint64_t pairs = hundreds | (x - hundreds * 100) << 16;  // four lanes of two digits
  // y / 10 in each 16-bit lane: exact for y < 100 (103 / 2^10 overshoots 1/10 by < 5.9e-4).
  const uint64_t tens = ((pairs * 103) >> 10) & 0x000f'000f'000f'000fULL;
  const uint64_t digits = tens | (pairs - tens * 10) << 8;
  return digits + 0x3030'3030'3030'3030ULL;
}

constexpr std::array<uint64_t, 20> kPowers = [] {
  std::array<uint64_t, 20> p{};
  uint64_t v = 1;
  for (auto& e : p) {
    e = v;
    v *= 10;
  }
  return p;
}();

}  // namespace decimal_detail

inline constexpr size_t kMaxDecimalDigits = 20;  // any uint64_t

// How many digits `v` has in decimal (1 for 0).
inline size_t decimalDigits(uint64_t v) {
  // log10(2) ~ 1233 / 4096: the count from the bit width, then one comparison to settle it.
  const uint64_t w = v | 1;  // 0 has one digit, as 1 has
  const size_t guess = static_cast<size_t>(std::bit_width(w) * 1233) >> 12;
  return guess + (w >= decimal_detail::kPowers[guess] ? 1 : 0);
}

// Writes `v` in decimal at `out` (no sign, no leading zero) and returns the number of digits.
// `out` must have room for max(8, digits) bytes (kMaxDecimalDigits will do): the digits go in
// whole words, each placed after the leading zeros of the first one are shifted out.
inline size_t writeDecimal(uint64_t v, char* out) {
  using decimal_detail::eightDigits;
  if (v < 10) {  // sizes of empty bodies, the most common number of all
    out[0] = static_cast<char>('0' + v);
    return 1;
  }
  const size_t n = decimalDigits(v);
  auto store = [](char* to, uint64_t word) { std::memcpy(to, &word, 8); };
  if (n <= 8) {
    store(out, eightDigits(v) >> (8 * (8 - n)));
    return n;
  }
  const uint64_t high = v / 100'000'000;
  const uint64_t low = v % 100'000'000;
  if (n <= 16) {
    store(out, eightDigits(high) >> (8 * (16 - n)));
  } else {
    store(out, eightDigits(high / 100'000'000) >> (8 * (24 - n)));
    store(out + n - 16, eightDigits(high % 100'000'000));
  }
  store(out + n - 8, eightDigits(low));
  return n;
}

}  // namespace halyard::common
