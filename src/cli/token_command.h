// `halyard token create`: a bootstrap credential for one namespace and service account, signed
// with the CA directory's token-key (control/ca/bootstrap_token.h).
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

void registerTokenCommand(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
