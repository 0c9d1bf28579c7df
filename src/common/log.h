// Process-wide logging. spdlog underneath; the rest of the code only sees these calls.
#pragma once

#include <spdlog/spdlog.h>

namespace halyard::common {

// Sets the level from a name (trace, debug, info, warn, error, off); unknown names keep info.
void setLogLevel(const std::string& level);

}  // namespace halyard::common

#define HLOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define HLOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define HLOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define HLOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
