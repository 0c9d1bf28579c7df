// `halyard control --config DIR --listen ADDR [--admin ADDR] [--ca-dir DIR]
// [--workload-cert-ttl 24h]`: runs the control plane (and its CA) until SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

void registerControlCommand(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
