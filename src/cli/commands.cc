#include "cli/commands.h"

#include <iostream>

#include "cli/analyze_command.h"
#include "cli/authz_command.h"
#include "cli/control_command.h"
#include "cli/dashboard_command.h"
#include "cli/proxy_status_command.h"
#include "cli/token_command.h"
#include "cli/up_command.h"

namespace halyard::cli {

void registerCommands(CLI::App& app, int& exit_code) {
  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([&exit_code] {
    std::cout << "halyard " << HALYARD_VERSION << "\n";
    exit_code = 0;
  });
  registerAnalyzeCommand(app, exit_code);
  registerAuthzCommand(app, exit_code);
  registerControlCommand(app, exit_code);
  registerDashboardCommand(app, exit_code);
  registerProxyStatusCommands(app, exit_code);
  registerTokenCommand(app, exit_code);
  registerUpCommand(app, exit_code);
}

}  // namespace halyard::cli
