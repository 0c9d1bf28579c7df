// `halyard control --config DIR --listen ADDR [--admin ADDR]`: runs the control plane until
// SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

void registerControlCommand(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
