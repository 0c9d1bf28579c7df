#include "proxy/runtime/grpc_status.h"

#include <array>
#include <cstdint>
#include <utility>

namespace halyard::proxy::runtime {

std::string_view grpcStatusNumber(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) return s;
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kCodes = {{
      {"OK", "0"},
      {"CANCELLED", "1"},
      {"UNKNOWN", "2"},
      {"INVALID_ARGUMENT", "3"},
      {"DEADLINE_EXCEEDED", "4"},
      {"NOT_FOUND", "5"},
      {"ALREADY_EXISTS", "6"},
      {"PERMISSION_DENIED", "7"},
      {"RESOURCE_EXHAUSTED", "8"},
      {"FAILED_PRECONDITION", "9"},
      {"ABORTED", "10"},
      {"OUT_OF_RANGE", "11"},
      {"UNIMPLEMENTED", "12"},
      {"INTERNAL", "13"},
      {"UNAVAILABLE", "14"},
      {"DATA_LOSS", "15"},
      {"UNAUTHENTICATED", "16"},
  }};
  for (const auto& [name, number] : kCodes) {
    if (name == s) return number;
  }
  return "2";
}

}  // namespace halyard::proxy::runtime

namespace halyard::proxy::runtime {

std::optional<std::chrono::milliseconds> parseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  uint64_t n = 0;
  for (const char ch : value.substr(0, value.size() - 1)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(ch - '0');
  }
  uint64_t ms = 0;
  switch (value.back()) {
    case 'H':
      ms = n * 3'600'000;
      break;
    case 'M':
      ms = n * 60'000;
      break;
    case 'S':
      ms = n * 1000;
      break;
    case 'm':
      ms = n;
      break;
    case 'u':
      ms = (n + 999) / 1000;
      break;
    case 'n':
      ms = (n + 999'999) / 1'000'000;
      break;
    default:
      return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace halyard::proxy::runtime
