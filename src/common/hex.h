// Hex digits, for the decoders that meet them (%XX escapes, trace ids).
#pragma once

#include <array>
#include <cstdint>

namespace halyard::common {

namespace hex_detail {
// Each byte's value as a hex digit, or -1. A table rather than range tests: trace ids are
// random hex, digits and letters mixed, and a range test per character mispredicts about every
// other one.
constexpr std::array<int8_t, 256> kValue = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<int8_t>(c - 'A' + 10);
  return t;
}();
}  // namespace hex_detail

// The value of hex digit `c` (0-15), or -1 when `c` is not one.
constexpr int hexValue(char c) {
  return hex_detail::kValue[static_cast<unsigned char>(c)];
}

}  // namespace halyard::common
