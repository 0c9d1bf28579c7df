// JSON string literals for the JSON this project writes by hand (access logs, spans, config
// dumps): one escaper, copying runs that need no escape in one piece.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace halyard::common {

namespace json_detail {

// True when one of the 8 bytes of `w` needs an escape: below 0x20, '"' or '\\' (the classic
// "has a zero byte" and "has a byte less than n" tests, a word at a time).
inline bool needsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t below_space = (w - kOnes * 0x20) & ~w;
  const uint64_t q = w ^ (kOnes * '"');
  const uint64_t b = w ^ (kOnes * '\\');
  return ((below_space | ((q - kOnes) & ~q) | ((b - kOnes) & ~b)) & kHigh) != 0;
}

}  // namespace json_detail

// The escaped form of `v` (without the quotes), as pieces: emit(std::string_view) gets each run
// that needs no escape and each escape sequence, in order. At most 6 bytes out per byte in.
template <class Emit>
void escapeJson(std::string_view v, Emit&& emit) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Most values (hosts, paths, ids) need no escape at all: checked eight bytes at a time, the
  // last word overlapping the one before it, and emitted whole.
  if (v.size() >= 8) {
    size_t i = 0;
    uint64_t w;
    for (; i + 8 <= v.size(); i += 8) {
      std::memcpy(&w, v.data() + i, 8);
      if (json_detail::needsEscape(w)) break;
    }
    if (i + 8 > v.size()) {
      std::memcpy(&w, v.data() + v.size() - 8, 8);
      if (!json_detail::needsEscape(w)) {
        emit(v);
        return;
      }
    }
  }
  size_t run = 0;  // start of the pending run of characters that need no escape
  for (size_t i = 0; i < v.size(); ++i) {
    // Most values (hosts, paths, ids) need no escape: skip them eight bytes at a time.
    while (i + 8 <= v.size()) {
      uint64_t w;
      std::memcpy(&w, v.data() + i, 8);
      if (json_detail::needsEscape(w)) break;
      i += 8;
    }
    if (i == v.size()) break;
    const auto u = static_cast<unsigned char>(v[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    if (i > run) emit(v.substr(run, i - run));
    run = i + 1;
    switch (u) {
      case '"':
        emit(std::string_view("\\\""));
        break;
      case '\\':
        emit(std::string_view("\\\\"));
        break;
      case '\n':
        emit(std::string_view("\\n"));
        break;
      case '\r':
        emit(std::string_view("\\r"));
        break;
      case '\t':
        emit(std::string_view("\\t"));
        break;
      default: {
        const char u00[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
        emit(std::string_view(u00, 6));
      }
    }
  }
  if (run < v.size()) emit(v.substr(run));
}

// Appends `v` to `out` as a quoted JSON string ("\"", "\\", control characters escaped).
void appendJsonString(std::string& out, std::string_view v);

}  // namespace halyard::common
