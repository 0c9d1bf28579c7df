// Durations for CEL's duration(): the text syntax is Go's time.ParseDuration, which is what
// Kubernetes' CEL (cel-go) accepts: a sign, then one or more decimal numbers with a unit
// ("1h30m", "1.5s", "-300ms", "10ns"; units ns, us, µs, ms, s, m, h), or a bare "0".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace halyard::config::cel {

// Nanoseconds; nullopt when the text is malformed or overflows 64 bits.
std::optional<int64_t> parseDuration(std::string_view text);

// CEL's string(duration): seconds with no trailing fractional zeros, e.g. "1.5s", "-0.001s".
std::string formatDuration(int64_t nanos);

}  // namespace halyard::config::cel
