#include "common/json_string.h"

namespace halyard::common {

void appendJsonString(std::string& out, std::string_view v) {
  out.push_back('"');
  escapeJson(v, [&out](std::string_view piece) { out.append(piece); });
  out.push_back('"');
}

}  // namespace halyard::common
