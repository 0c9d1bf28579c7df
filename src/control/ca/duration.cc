#include "control/ca/duration.h"

#include <cmath>
#include <cstdint>

namespace halyard::control::ca {

namespace {

// Nanoseconds per unit, longest unit names first so "ms" is not read as "m".
struct Unit {
  std::string_view name;
  double ns;
};
constexpr Unit kUnits[] = {{"ns", 1},     {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6},
                           {"h", 3.6e12}, {"m", 6e10}, {"s", 1e9}};

// Far beyond any certificate lifetime, well inside int64 nanoseconds (about 292 years).
constexpr double kMaxNs = 200.0 * 365 * 24 * 3.6e12;

common::Unexpected<common::Error> invalid(std::string_view text, const std::string& why) {
  return common::fail(common::ErrorKind::kInvalidArgument,
                      "invalid duration \"" + std::string(text) + "\": " + why +
                          " (expected e.g. 24h, 90m, 30s or 1h30m)");
}

}  // namespace

common::Expected<std::chrono::nanoseconds> parseDuration(std::string_view text) {
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) return invalid(text, "it is empty");
  if (text.front() == '-') return invalid(text, "it is negative");
  double total = 0;
  std::string_view rest = text;
  if (rest.front() == '+') rest.remove_prefix(1);
  if (rest.empty()) return invalid(text, "it has no number");
  while (!rest.empty()) {
    size_t digits = 0;
    bool dot = false;
    while (digits < rest.size() &&
           ((rest[digits] >= '0' && rest[digits] <= '9') || (rest[digits] == '.' && !dot))) {
      dot |= rest[digits] == '.';
      ++digits;
    }
    const std::string number(rest.substr(0, digits));
    if (number.empty() || number == ".") return invalid(text, "a unit has no number before it");
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest.starts_with(u.name)) {
        unit = &u;
        break;
      }
    }
    if (!unit) {
      return invalid(text, rest.empty() ? "the number " + number + " has no unit"
                                        : "unknown unit at \"" + std::string(rest) + "\"");
    }
    rest.remove_prefix(unit->name.size());
    total += std::stod(number) * unit->ns;
    if (total > kMaxNs) return invalid(text, "it is longer than 200 years");
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

std::string formatDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s <= 0) return "0s";
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0) out += std::to_string(s % 60) + "s";
  return out;
}

}  // namespace halyard::control::ca
