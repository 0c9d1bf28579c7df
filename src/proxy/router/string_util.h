// ASCII helpers for the matching path: case-insensitive comparisons without lowering copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace halyard::proxy::router {

constexpr char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// Eight bytes at a time (SWAR): every byte 'A'..'Z' gets 0x20 added, the others stay. A byte
// at or above 0x80 is never taken for a letter; no carry crosses bytes (each sum stays < 0x100).
inline uint64_t lowerAscii8(uint64_t bytes) {
  const uint64_t low7 = bytes & 0x7f7f7f7f7f7f7f7full;
  const uint64_t above_z = low7 + 0x2525252525252525ull;  // high bit set: byte > 'Z'
  const uint64_t from_a = low7 + 0x3f3f3f3f3f3f3f3full;   // high bit set: byte >= 'A'
  const uint64_t upper = (from_a ^ above_z) & ~bytes & 0x8080808080808080ull;
  return bytes | (upper >> 2);
}

// The `n` (at most 8) bytes at `p` as one word, the rest zero.
inline uint64_t loadWord(const char* p, size_t n) {
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (std::is_constant_evaluated()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
    }
    return true;
  }
  // Host names and header names are compared on every request: a word per step, not a byte.
  size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    if (lowerAscii8(loadWord(a.data() + i, 8)) != lowerAscii8(loadWord(b.data() + i, 8))) {
      return false;
    }
  }
  const size_t rest = a.size() - i;
  return rest == 0 ||
         lowerAscii8(loadWord(a.data() + i, rest)) == lowerAscii8(loadWord(b.data() + i, rest));
}

constexpr bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

constexpr bool endsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && equalsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace halyard::proxy::router
