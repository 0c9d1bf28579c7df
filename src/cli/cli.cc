#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

namespace halyard::cli {

int run(int argc, char** argv) {
  CLI::App app{"halyard: a service mesh that runs Istio's configuration unchanged"};
  app.require_subcommand(1);
  int exit_code = 0;
  registerCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 1 (istioctl convention), --help exits 0.
    int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  }
  return exit_code;
}

}  // namespace halyard::cli
