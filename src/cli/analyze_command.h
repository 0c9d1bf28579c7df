// `halyard analyze PATH...`: validate and analyze Istio configuration like `istioctl analyze`.
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

// Exit codes, as istioctl uses them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;           // bad flags, missing or unreadable files
inline constexpr int kExitAnalyzeErrors = 79;  // messages at or above --failure-threshold

void registerAnalyzeCommand(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
