#include "common/json_string.h"

#include <cstdint>
#include <cstring>

namespace halyard::common {

namespace {

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

}  // namespace

void appendJsonString(std::string& out, std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending run of characters that need no escape
  for (size_t i = 0; i < v.size(); ++i) {
    // Most values (hosts, paths, ids) need no escape: skip them eight bytes at a time.
    while (i + 8 <= v.size()) {
      uint64_t w;
      std::memcpy(&w, v.data() + i, 8);
      if (needsEscape(w)) break;
      i += 8;
    }
    if (i == v.size()) break;
    const auto u = static_cast<unsigned char>(v[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(v.substr(run, i - run));
    run = i + 1;
    switch (u) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 0xf]);
    }
  }
  out.append(v.substr(run));
  out.push_back('"');
}

}  // namespace halyard::common
