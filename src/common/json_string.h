// JSON string literals for the JSON this project writes by hand (access logs, spans, config
// dumps): one escaper, copying runs that need no escape in one piece.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
// The same test on the 16 bytes at `p`.
inline bool needsEscape16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // x <= 0x1f (unsigned) exactly when min(x, 0x1f) == x.
  const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
  const __m128i quote = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
  return _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))) != 0;
}
#endif

}  // namespace json_detail

// The escaped form of `v` (without the quotes), as pieces: emit(std::string_view) gets each run
// that needs no escape and each escape sequence, in order. At most 6 bytes out per byte in.
template <class Emit>
void escapeJson(std::string_view v, Emit&& emit) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Most values (hosts, paths, ids) need no escape at all: checked sixteen bytes at a time (eight
  // without SSE2), the last block overlapping the one before it, and emitted whole.
#if defined(__SSE2__)
  if (v.size() >= 16) {
    size_t i = 0;
    for (; i + 16 <= v.size(); i += 16) {
      if (json_detail::needsEscape16(v.data() + i)) break;
    }
    if (i + 16 > v.size() && !json_detail::needsEscape16(v.data() + v.size() - 16)) {
      emit(v);
      return;
    }
  } else if (v.size() >= 8) {
#else
  if (v.size() >= 8) {
#endif
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
