// JSON string literals for the JSON this project writes by hand (access logs, spans, config
// dumps): one escaper, copying runs that need no escape in one append.
#pragma once

#include <string>
#include <string_view>

namespace halyard::common {

// Appends `v` to `out` as a quoted JSON string ("\"", "\\", control characters escaped).
void appendJsonString(std::string& out, std::string_view v);

}  // namespace halyard::common
