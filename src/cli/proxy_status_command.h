// `halyard proxy-status` and `halyard proxy-config listeners|routes|clusters|endpoints PROXY`:
// clients of the control plane's Status and ProxyConfig calls (--control ADDR, -o text|json).
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

void registerProxyStatusCommands(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
