#include "config/validate/cel_duration.h"

#include <utility>

namespace halyard::config::cel {

namespace {

constexpr uint64_t kLimit = uint64_t{1} << 63;  // |INT64_MIN|: the largest magnitude allowed

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

std::optional<uint64_t> unitNanos(std::string_view unit) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"ns", 1},
      {"us", 1'000},
      {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
      {"\xCE\xBCs", 1'000},  // U+03BC Greek mu
      {"ms", 1'000'000},
      {"s", 1'000'000'000},
      {"m", 60'000'000'000},
      {"h", 3'600'000'000'000},
  };
  for (const auto& [name, nanos] : kUnits) {
    if (name == unit) return nanos;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> parseDuration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  uint64_t total = 0;
  while (!s.empty()) {
    if (!isDigit(s[0]) && s[0] != '.') return std::nullopt;
    uint64_t whole = 0;
    bool digits = false;
    while (!s.empty() && isDigit(s[0])) {
      if (whole > kLimit / 10) return std::nullopt;
      whole = whole * 10 + static_cast<uint64_t>(s[0] - '0');
      if (whole > kLimit) return std::nullopt;
      digits = true;
      s.remove_prefix(1);
    }
    // Fraction digits beyond 64-bit precision are ignored rather than rejected, as Go does.
    uint64_t fraction = 0;
    double scale = 1;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool saturated = false;
      while (!s.empty() && isDigit(s[0])) {
        digits = true;
        uint64_t next = fraction * 10 + static_cast<uint64_t>(s[0] - '0');
        if (saturated || fraction > (kLimit - 1) / 10 || next > kLimit) {
          saturated = true;
        } else {
          fraction = next;
          scale *= 10;
        }
        s.remove_prefix(1);
      }
    }
    if (!digits) return std::nullopt;
    size_t unit_end = 0;
    while (unit_end < s.size() && s[unit_end] != '.' && !isDigit(s[unit_end])) ++unit_end;
    auto unit = unitNanos(s.substr(0, unit_end));
    if (!unit) return std::nullopt;  // also a missing unit
    s.remove_prefix(unit_end);
    if (whole > kLimit / *unit) return std::nullopt;
    uint64_t part = whole * *unit;
    if (fraction > 0) {
      part += static_cast<uint64_t>(static_cast<double>(fraction) *
                                    (static_cast<double>(*unit) / scale));
      if (part > kLimit) return std::nullopt;
    }
    total += part;
    if (total > kLimit) return std::nullopt;
  }
  if (negative) return static_cast<int64_t>(0 - total);  // two's complement covers INT64_MIN
  if (total > kLimit - 1) return std::nullopt;
  return static_cast<int64_t>(total);
}

std::string formatDuration(int64_t nanos) {
  uint64_t magnitude = nanos < 0 ? 0 - static_cast<uint64_t>(nanos) : static_cast<uint64_t>(nanos);
  std::string out = nanos < 0 ? "-" : "";
  out += std::to_string(magnitude / 1'000'000'000);
  if (uint64_t fraction = magnitude % 1'000'000'000) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 9 - digits.size(), '0');
    digits.erase(digits.find_last_not_of('0') + 1);
    out += "." + digits;
  }
  return out + "s";
}

}  // namespace halyard::config::cel
