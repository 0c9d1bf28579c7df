#include "proxy/runtime/grpc_status.h"

#include <array>
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
