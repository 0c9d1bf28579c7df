#include "proxy/http/h1_field_section.h"

#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "proxy/http/h1_syntax.h"

namespace halyard::proxy::http {

namespace {

bool parseDigits(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!syntax::isDigit(c)) return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// Returns the reason a field is invalid, or an empty view when it was recorded.
std::string_view summarize(const HeaderView& h, FieldSummary& s) {
  const std::string_view name = h.name;
  if (name == "host") {
    if (++s.host_count == 1) s.host = h.value;
  } else if (name == "content-length") {
    uint64_t length = 0;
    if (!parseContentLength(h.value, length)) return "invalid content-length";
    if (s.has_content_length && length != s.content_length) {
      return "conflicting content-length values";
    }
    s.has_content_length = true;
    s.content_length = length;
  } else if (name == "transfer-encoding") {
    // Transfer codings are case-insensitive (RFC 9112 §7). Several lines form one list in
    // order (RFC 9110 §5.3), so "chunked_is_final" is about the last element of the last line.
    s.has_transfer_encoding = true;
    s.chunked_is_final = false;
    syntax::forEachListElement(h.value, [&](std::string_view coding) {
      s.chunked_is_final = syntax::equalsIgnoreCase(coding, "chunked");
      if (s.chunked_is_final) {
        ++s.chunked_count;
      } else {
        s.has_other_coding = true;
      }
    });
  } else if (name == "connection") {
    syntax::forEachListElement(h.value, [&](std::string_view option) {
      if (syntax::equalsIgnoreCase(option, "close")) {
        s.connection_close = true;
      } else if (syntax::equalsIgnoreCase(option, "keep-alive")) {
        s.connection_keep_alive = true;
      } else if (syntax::equalsIgnoreCase(option, "upgrade")) {
        s.connection_upgrade = true;
      }
    });
  } else if (name == "upgrade") {
    if (!s.has_upgrade) s.upgrade = h.value;
    s.has_upgrade = true;
  } else if (name == "expect") {
    syntax::forEachListElement(h.value, [&](std::string_view expectation) {
      if (syntax::equalsIgnoreCase(expectation, "100-continue")) s.expect_continue = true;
    });
  }
  return {};
}

}  // namespace

bool parseContentLength(std::string_view value, uint64_t& length) {
  bool any = false;
  bool valid = true;
  // Elements are split on ',' without skipping empty ones: "5,,5" or ",5" is not a number.
  while (valid) {
    const size_t comma = value.find(',');
    uint64_t element = 0;
    valid = parseDigits(syntax::trimWhitespace(value.substr(0, comma)), element) &&
            (!any || element == length);
    length = element;
    any = true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return valid;
}

bool parseFieldSection(std::span<char> section, uint16_t malformed_status,
                       std::vector<HeaderView>& headers, FieldSummary& summary, ParseError& error) {
  char* p = section.data();
  char* const end = p + section.size();
  auto fail = [&](std::string_view reason) {
    error = ParseError{malformed_status, reason};
    return false;
  };
  while (p < end) {
    char* const lf = static_cast<char*>(std::memchr(p, '\n', end - p));
    char* const line_end = lf - 1;  // the CR, guaranteed by the HeadScanner
    // RFC 9112 §5.2: obs-fold is rejected (a server answers 400, a proxy 502 to a response);
    // §2.2: so is whitespace between the start line and the first field.
    if (syntax::isWhitespace(*p)) return fail("obsolete line folding (obs-fold) in header");
    char* q = p;
#if defined(__SSE2__)
    // Names are mostly lowercase letters, digits and '-' (a traced request brings five more of
    // them): sixteen bytes at a time while they are, the rest byte by byte below.
    while (q + 16 <= line_end) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      auto within = [](__m128i v, char low, char high) {
        return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(low - 1))),
                             _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(high + 1))));
      };
      const __m128i upper = within(x, 'A', 'Z');
      const __m128i lower = _mm_or_si128(x, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
      const unsigned plain = static_cast<unsigned>(_mm_movemask_epi8(
          _mm_or_si128(within(lower, 'a', 'z'),
                       _mm_or_si128(within(x, '0', '9'), _mm_cmpeq_epi8(x, _mm_set1_epi8('-'))))));
      const unsigned uppers = static_cast<unsigned>(_mm_movemask_epi8(upper));
      if (plain == 0xffff) {
        if (uppers != 0) _mm_storeu_si128(reinterpret_cast<__m128i*>(q), lower);
        q += 16;
        continue;
      }
      // The bytes before the first other one (the colon, most often) are the name's.
      const unsigned run = static_cast<unsigned>(__builtin_ctz(~plain));
      if ((uppers & ((1u << run) - 1)) != 0) {
        for (unsigned i = 0; i < run; ++i) q[i] = syntax::lowerAscii(q[i]);
      }
      q += run;
      break;
    }
#endif
    for (; q < line_end && syntax::isTokenChar(*q); ++q) *q = syntax::lowerAscii(*q);
    if (q == line_end || *q != ':') {
      // RFC 9112 §5.1: whitespace between name and colon MUST be rejected with 400.
      if (q < line_end && syntax::isWhitespace(*q))
        return fail("whitespace before colon in header");
      return fail(q == line_end ? "header line without colon" : "invalid character in header name");
    }
    if (q == p) return fail("empty header name");
    const std::string_view name(p, q - p);
    const std::string_view value =
        syntax::trimWhitespace(std::string_view(q + 1, line_end - q - 1));
    if (!syntax::isFieldValue(value)) return fail("invalid character in header value");
    headers.push_back(HeaderView{name, value});
    const std::string_view reason = summarize(headers.back(), summary);
    if (!reason.empty()) return fail(reason);
    p = lf + 1;
  }
  return true;
}

}  // namespace halyard::proxy::http
