#include "cli/commands.h"

#include <iostream>

namespace halyard::cli {

void registerCommands(CLI::App& app, int& exit_code) {
  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([&exit_code] {
    std::cout << "halyard " << HALYARD_VERSION << "\n";
    exit_code = 0;
  });
}

}  // namespace halyard::cli
