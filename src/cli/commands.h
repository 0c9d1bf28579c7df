// Each subcommand adds itself to the app here. exit_code is set by the command that runs.
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

void registerCommands(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
