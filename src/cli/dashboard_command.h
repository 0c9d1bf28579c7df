#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

// `halyard dashboard`: the control plane's dashboard (its admin address's "/"), opened in a
// browser when one can be, and its URL printed.
void registerDashboardCommand(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
