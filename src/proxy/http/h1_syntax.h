// Character classes and list syntax of RFC 9110 §5.6, shared by the HTTP/1.1 parsers, the
// chunked decoder and the writer. Table lookups, no locale.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace halyard::proxy::http::syntax {

namespace detail {
constexpr std::array<bool, 256> makeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
// field-value characters: VCHAR, obs-text, SP and HTAB. Everything else (NUL, CR, LF, the other
// controls, DEL) is rejected: RFC 9110 §5.5 requires it for NUL/CR/LF and allows it for the
// rest, and a proxy that forwards them would hand the ambiguity to the upstream.
constexpr std::array<bool, 256> makeFieldValueTable() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c) t[c] = true;
  t[' '] = true;
  t['\t'] = true;
  return t;
}
// Characters of a Host value or absolute-form authority (RFC 3986 §3.2: reg-name, IP-literal,
// port): unreserved, sub-delims, ':', '[', ']', '%'. Rejecting '/', '?', '#', '@', whitespace
// and controls keeps routing from seeing a path or userinfo smuggled into the host.
constexpr std::array<bool, 256> makeAuthorityTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("-._~!$&'()*+,;=:[]%")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
// request-target characters: visible ASCII except '#' (a fragment is never part of a
// request-target, RFC 9112 §3.2) plus obs-text, which some clients send unencoded in paths.
constexpr std::array<bool, 256> makeTargetTable() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c) t[c] = true;
  t['#'] = false;
  return t;
}
inline constexpr std::array<bool, 256> kToken = makeTokenTable();
inline constexpr std::array<bool, 256> kFieldValue = makeFieldValueTable();
inline constexpr std::array<bool, 256> kAuthority = makeAuthorityTable();
inline constexpr std::array<bool, 256> kTarget = makeTargetTable();
}  // namespace detail

constexpr bool isTokenChar(char c) {
  return detail::kToken[static_cast<unsigned char>(c)];
}
constexpr bool isFieldValueChar(char c) {
  return detail::kFieldValue[static_cast<unsigned char>(c)];
}
constexpr bool isAuthorityChar(char c) {
  return detail::kAuthority[static_cast<unsigned char>(c)];
}
constexpr bool isTargetChar(char c) {
  return detail::kTarget[static_cast<unsigned char>(c)];
}
constexpr bool isWhitespace(char c) {
  return c == ' ' || c == '\t';
}  // OWS, RFC 9110 §5.6.3
constexpr bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

constexpr bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

// True when every byte of `s` is a field-value character. Values are most of a head's bytes:
// sixteen (SSE2), then eight are tested at a time for a control byte (below 0x20) or DEL, and only
// a block holding one (a tab, most likely) is looked at byte by byte.
inline bool isFieldValue(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t i = 0;
#if defined(__SSE2__)
  // Sixteen at a time first (trace ids and traceparent are 16 to 55 bytes): x <= 0x1f (unsigned)
  // exactly when min(x, 0x1f) == x.
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
    const __m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));
    if (_mm_movemask_epi8(_mm_or_si128(control, del)) == 0) continue;
    for (size_t j = i; j < i + 16; ++j) {
      if (!isFieldValueChar(s[j])) return false;
    }
  }
#endif
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    const uint64_t below_space = (w - kOnes * 0x20) & ~w;  // a byte < 0x20 (exact for "any")
    const uint64_t del = w ^ (kOnes * 0x7f);
    if (((below_space | ((del - kOnes) & ~del)) & kHigh) == 0) continue;
    for (size_t j = i; j < i + 8; ++j) {
      if (!isFieldValueChar(s[j])) return false;
    }
  }
  for (; i < s.size(); ++i) {
    if (!isFieldValueChar(s[i])) return false;
  }
  return true;
}

// True when `s` holds a CR, an LF or a NUL (what must never reach a header line), eight bytes
// at a time: values the parser produced never do, so a writer checks before it repairs.
inline bool hasLineBreakOrNul(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  auto hasByte = [](uint64_t w, uint8_t b) {
    const uint64_t x = w ^ (kOnes * b);
    return ((x - kOnes) & ~x & kHigh) != 0;
  };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (hasByte(w, '\r') || hasByte(w, '\n') || hasByte(w, 0)) return true;
  }
  for (; i < s.size(); ++i) {
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return true;
  }
  return false;
}

constexpr bool isAuthority(std::string_view s) {
  for (char c : s) {
    if (!isAuthorityChar(c)) return false;
  }
  return true;
}

constexpr char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

constexpr std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && isWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty element of a comma-separated list, whitespace trimmed.
// Empty elements are skipped, as RFC 9110 §5.6.1 requires of recipients.
template <class Fn>
constexpr void forEachListElement(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view element = trimWhitespace(list.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace halyard::proxy::http::syntax
