#include "telemetry/trace_context.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/hex.h"

namespace halyard::telemetry {

namespace {

using common::hexValue;

bool isHex(std::string_view s) {
  int seen = 0;  // negative once any byte is not a digit (-1 has every bit set)
  for (char c : s) seen |= hexValue(c);
  return seen >= 0 && !s.empty();
}

// Copies the id `from` to `to` in lowercase, checking it on the way (one pass, not three): -1
// when a byte is not a hex digit (then `to` holds junk, which the caller does not use), 0 when
// every digit is zero (an invalid trace id, and an invalid W3C parent id), else 1.
int copyId(std::string_view from, char* to) {
  static constexpr char kDigits[] = "0123456789abcdef";
#if defined(__SSE2__)
  // Ids are 16 or 32 digits: sixteen at a time. x | 0x20 lowercases A-F and leaves digits as they
  // are; a digit is checked on x itself (x | 0x20 would also turn 0x10-0x19 into digits).
  if (from.size() % 16 == 0) {
    bool valid = true;
    bool nonzero = false;
    for (size_t i = 0; i < from.size(); i += 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from.data() + i));
      const __m128i lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
      const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                          _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
      const __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                           _mm_cmplt_epi8(lower, _mm_set1_epi8('f' + 1)));
      valid = valid && _mm_movemask_epi8(_mm_or_si128(digit, letter)) == 0xffff;
      nonzero = nonzero || _mm_movemask_epi8(_mm_cmpeq_epi8(lower, _mm_set1_epi8('0'))) != 0xffff;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to + i), lower);
    }
    if (!valid) return -1;
    return nonzero ? 1 : 0;
  }
#endif
  int seen = 0;     // negative once any byte is not a digit (-1 has every bit set)
  int nonzero = 0;  // the digits' values or'ed
  for (size_t i = 0; i < from.size(); ++i) {
    const int v = hexValue(from[i]);
    seen |= v;
    nonzero |= v;
    to[i] = kDigits[v & 0xf];
  }
  if (seen < 0) return -1;
  return nonzero != 0 ? 1 : 0;
}

}  // namespace

#if !defined(__SSE2__)
namespace {
// Every byte's two hex digits: an id is eight lookups rather than sixteen shifts and masks.
constexpr std::array<std::array<char, 2>, 256> kByteHex = [] {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<std::array<char, 2>, 256> t{};
  for (size_t b = 0; b < 256; ++b) t[b] = {kDigits[b >> 4], kDigits[b & 0xf]};
  return t;
}();
}  // namespace
#endif

void TraceContext::hex(uint64_t v, char* out) {
#if defined(__SSE2__)
  // The sixteen nibbles side by side, most significant first, each turned into its digit at once:
  // '0' + n, plus the gap from '9' + 1 to 'a' where n > 9.
  const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(__builtin_bswap64(v)));
  const __m128i low_nibble = _mm_set1_epi8(0x0f);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibble);
  const __m128i low = _mm_and_si128(bytes, low_nibble);
  const __m128i nibbles = _mm_unpacklo_epi8(high, low);
  const __m128i letters =
      _mm_and_si128(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')), letters));
#else
  for (int i = 7; i >= 0; --i) {
    std::memcpy(out + 2 * i, kByteHex[v & 0xff].data(), 2);
    v >>= 8;
  }
#endif
}

bool TraceContext::sample(uint64_t random) const {
  const double pct = settings_->sampling_percentage;
  if (pct >= 100) return true;
  if (pct <= 0) return false;
  // In millionths of a percent: 0.01% is sampled as exactly as 50%.
  return static_cast<double>(random % 100'000'000) < pct * 1'000'000;
}

bool TraceContext::sampleRequestId(double pct, std::string_view id) {
  if (pct >= 100) return true;
  if (pct <= 0) return false;
  uint64_t n = 0;
  // xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx: the last eight digits are random in every UUID
  // version (the first eight are a timestamp in version 7).
  const bool uuid = id.size() == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' &&
                    id[23] == '-' && isHex(id.substr(28, 8));
  if (uuid) {
    for (char c : id.substr(28, 8)) n = n << 4 | static_cast<uint64_t>(hexValue(c));
  } else {
    n = 14695981039346656037ull;  // FNV-1a
    for (char c : id) n = (n ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  // Envoy's FractionalPercent of TEN_THOUSAND: randomSamplingPercentage in hundredths.
  return n % 10'000 < static_cast<uint64_t>(std::llround(pct * 100));
}

bool TraceContext::extract(const Incoming& in) {
  auto present = [](std::string_view v) { return v.data() != nullptr; };
  // W3C first: version 00, 32 hex trace id, 16 hex parent id, 2 hex flags; all-zero ids invalid.
  if (in.traceparent.size() >= 55) {
    const std::string_view v = in.traceparent;
    const std::string_view trace = v.substr(3, 32), parent = v.substr(36, 16),
                           flags = v.substr(53, 2);
    if (v[2] == '-' && v[35] == '-' && v[52] == '-' && isHex(v.substr(0, 2)) &&
        v.substr(0, 2) != "ff" && isHex(flags) && copyId(trace, trace_id_.data()) > 0 &&
        copyId(parent, parent_id_.data()) > 0) {
      has_trace_ = has_parent_ = true;
      sampled_ = (hexValue(flags[1]) & 1) != 0;
      return true;
    }
  }
  auto setTrace = [this](std::string_view trace) {
    if (trace.size() != 16 && trace.size() != 32) return false;
    std::memset(trace_id_.data(), '0', 32);  // a 64-bit B3 trace id is the low half
    return copyId(trace, trace_id_.data() + (32 - trace.size())) > 0;
  };
  auto decision = [this](std::string_view s) -> bool {
    if (s == "1" || s == "true" || s == "d") {
      sampled_ = true;
      return true;
    }
    if (s == "0" || s == "false") {
      sampled_ = false;
      return true;
    }
    return false;
  };
  // B3 single header: {trace}-{span}[-{sampled}[-{parent}]], or a lone sampling decision.
  if (!in.b3.empty()) {
    const std::string_view v = in.b3;
    const size_t d1 = v.find('-');
    if (d1 == std::string_view::npos) return decision(v);
    const std::string_view trace = v.substr(0, d1);
    const std::string_view rest = v.substr(d1 + 1);
    const size_t d2 = rest.find('-');
    const std::string_view span = rest.substr(0, d2);
    if (setTrace(trace) && span.size() == 16 && copyId(span, parent_id_.data()) >= 0) {
      has_trace_ = has_parent_ = true;
      if (d2 != std::string_view::npos) {
        const std::string_view tail = rest.substr(d2 + 1);
        return decision(tail.substr(0, tail.find('-')));
      }
      return false;
    }
  }
  // B3 multi headers.
  bool decided = false;
  if (in.flags == "1") {
    decided = decision("d");
  } else if (present(in.sampled)) {
    decided = decision(in.sampled);
  }
  if (!in.trace_id.empty() && in.span_id.size() == 16 && setTrace(in.trace_id) &&
      copyId(in.span_id, parent_id_.data()) >= 0) {
    has_trace_ = has_parent_ = true;
  }
  return decided;
}

std::string TraceContext::tagValue(const translate::TracingCustomTag& t,
                                   std::optional<std::string_view> header) {
  switch (t.kind) {
    case translate::TracingCustomTag::Kind::kLiteral:
      return t.value;
    case translate::TracingCustomTag::Kind::kHeader:
      return header ? std::string(*header) : t.default_value;
    case translate::TracingCustomTag::Kind::kEnvironment: {
      const char* e = std::getenv(t.value.c_str());
      return e ? e : t.default_value;
    }
  }
  return t.default_value;
}

void TraceContext::render() {
  char* p = traceparent_.data();
  std::memcpy(p, "00-", 3);
  std::memcpy(p + 3, trace_id_.data(), 32);
  p[35] = '-';
  std::memcpy(p + 36, span_id_.data(), 16);
  p[52] = '-';
  p[53] = '0';
  p[54] = sampled_ ? '1' : '0';

  char* b = block_.data();
  auto copy = [&b](std::string_view piece) {
    std::memcpy(b, piece.data(), piece.size());
    b += piece.size();
  };
  forEachHeader([&copy](std::string_view name, std::string_view value) {
    copy(name);
    copy(": ");
    copy(value);
    copy("\r\n");
  });
  block_size_ = static_cast<size_t>(b - block_.data());
}

}  // namespace halyard::telemetry
