#include "telemetry/trace_context.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/hex.h"

namespace halyard::telemetry {

namespace {

using common::hexValue;

bool isHex(std::string_view s) {
  int seen = 0;  // negative once any byte is not a digit (-1 has every bit set)
  for (char c : s) seen |= hexValue(c);
  return seen >= 0 && !s.empty();
}

bool allZero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

// `from` is hex (isHex): copied in lowercase.
void copyLower(std::string_view from, char* to) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < from.size(); ++i) to[i] = kDigits[hexValue(from[i]) & 0xf];
}

}  // namespace

bool TraceContext::isPropagationHeader(std::string_view n) {
  return n == "traceparent" || n == "b3" || n == "x-b3-traceid" || n == "x-b3-spanid" ||
         n == "x-b3-parentspanid" || n == "x-b3-sampled" || n == "x-b3-flags";
}

void TraceContext::hex(uint64_t v, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = kDigits[v & 0xf];
    v >>= 4;
  }
}

bool TraceContext::sample(uint64_t random) const {
  const double pct = settings_->sampling_percentage;
  if (pct >= 100) return true;
  if (pct <= 0) return false;
  // In millionths of a percent: 0.01% is sampled as exactly as 50%.
  return static_cast<double>(random % 100'000'000) < pct * 1'000'000;
}

void TraceContext::Incoming::offer(std::string_view n, std::string_view v) {
  // Most fields fail the first test: every propagation header starts with 't', 'b' or 'x'.
  if (n.empty() || (n[0] != 't' && n[0] != 'b' && n[0] != 'x')) return;
  auto keep = [v](std::string_view& slot) {
    if (slot.data() == nullptr) slot = v.data() ? v : std::string_view("", 0);
  };
  switch (n.size()) {
    case 2:
      if (n == "b3") keep(b3);
      break;
    case 10:
      if (n == "x-b3-flags") keep(flags);
      break;
    case 11:
      if (n == "traceparent") {
        keep(traceparent);
      } else if (n == "x-b3-spanid") {
        keep(span_id);
      }
      break;
    case 12:
      if (n == "x-b3-traceid") {
        keep(trace_id);
      } else if (n == "x-b3-sampled") {
        keep(sampled);
      }
      break;
    default:
      break;
  }
}

bool TraceContext::extract(const Incoming& in) {
  auto present = [](std::string_view v) { return v.data() != nullptr; };
  // W3C first: version 00, 32 hex trace id, 16 hex parent id, 2 hex flags; all-zero ids invalid.
  if (in.traceparent.size() >= 55) {
    const std::string_view v = in.traceparent;
    const std::string_view trace = v.substr(3, 32), parent = v.substr(36, 16),
                           flags = v.substr(53, 2);
    if (v[2] == '-' && v[35] == '-' && v[52] == '-' && isHex(v.substr(0, 2)) &&
        v.substr(0, 2) != "ff" && isHex(trace) && isHex(parent) && isHex(flags) &&
        !allZero(trace) && !allZero(parent)) {
      copyLower(trace, trace_id_.data());
      copyLower(parent, parent_id_.data());
      has_trace_ = has_parent_ = true;
      sampled_ = (hexValue(flags[1]) & 1) != 0;
      return true;
    }
  }
  auto setTrace = [this](std::string_view trace) {
    if (!isHex(trace) || (trace.size() != 16 && trace.size() != 32) || allZero(trace)) return false;
    std::memset(trace_id_.data(), '0', 32);  // a 64-bit B3 trace id is the low half
    copyLower(trace, trace_id_.data() + (32 - trace.size()));
    return true;
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
    if (setTrace(trace) && span.size() == 16 && isHex(span)) {
      copyLower(span, parent_id_.data());
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
      isHex(in.span_id)) {
    copyLower(in.span_id, parent_id_.data());
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
}

}  // namespace halyard::telemetry
