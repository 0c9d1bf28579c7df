#include "telemetry/trace_context.h"

#include <cstdlib>
#include <cstring>

namespace halyard::telemetry {

namespace {

bool isHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return !s.empty();
}

bool allZero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

void copyLower(std::string_view from, char* to) {
  for (size_t i = 0; i < from.size(); ++i) {
    const char c = from[i];
    to[i] = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  }
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

bool TraceContext::extract(const void* request, HeaderLookup header) {
  // W3C first: version 00, 32 hex trace id, 16 hex parent id, 2 hex flags; all-zero ids invalid.
  if (auto tp = header(request, "traceparent"); tp && tp->size() >= 55) {
    const std::string_view v = *tp;
    const std::string_view trace = v.substr(3, 32), parent = v.substr(36, 16),
                           flags = v.substr(53, 2);
    if (v[2] == '-' && v[35] == '-' && v[52] == '-' && isHex(v.substr(0, 2)) &&
        v.substr(0, 2) != "ff" && isHex(trace) && isHex(parent) && isHex(flags) &&
        !allZero(trace) && !allZero(parent)) {
      copyLower(trace, trace_id_.data());
      copyLower(parent, parent_id_.data());
      has_trace_ = has_parent_ = true;
      sampled_ = (std::strtoul(std::string(flags).c_str(), nullptr, 16) & 1) != 0;
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
  if (auto b3 = header(request, "b3"); b3 && !b3->empty()) {
    const std::string_view v = *b3;
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
  if (auto flags = header(request, "x-b3-flags"); flags && *flags == "1") {
    decided = decision("d");
  } else if (auto s = header(request, "x-b3-sampled"); s) {
    decided = decision(*s);
  }
  auto trace = header(request, "x-b3-traceid");
  auto span = header(request, "x-b3-spanid");
  if (trace && span && setTrace(*trace) && span->size() == 16 && isHex(*span)) {
    copyLower(*span, parent_id_.data());
    has_trace_ = has_parent_ = true;
  }
  return decided;
}

void TraceContext::captureTags(const void* request, HeaderLookup header) {
  if (!sampled_) return;
  for (const auto& t : settings_->custom_tags) {
    std::string value;
    switch (t.kind) {
      case translate::TracingCustomTag::Kind::kLiteral:
        value = t.value;
        break;
      case translate::TracingCustomTag::Kind::kHeader: {
        auto h = header(request, t.value);
        value = h ? std::string(*h) : t.default_value;
        break;
      }
      case translate::TracingCustomTag::Kind::kEnvironment: {
        const char* e = std::getenv(t.value.c_str());
        value = e ? e : t.default_value;
        break;
      }
    }
    tag_values_.emplace_back(t.tag, std::move(value));
  }
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
