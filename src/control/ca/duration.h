// Go-style durations ("24h", "90m", "30s", "1h30m", "1.5h", "250ms") as the CLI flags take them,
// the way Istio's flags (and `kubectl`) spell lifetimes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.h"

namespace halyard::control::ca {

// A sequence of <decimal><unit> with units ns, us, ms, s, m, h; "0" alone is zero. Negative
// durations are refused: every lifetime here is positive or zero.
common::Expected<std::chrono::nanoseconds> parseDuration(std::string_view text);

// The shortest Go-style spelling of whole seconds: 86400 -> "24h", 5400 -> "1h30m", 0 -> "0s".
std::string formatDuration(std::chrono::seconds d);

}  // namespace halyard::control::ca
