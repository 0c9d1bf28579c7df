#include "cli/dashboard_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "up/http_probe.h"

namespace halyard::cli {

namespace {

struct DashboardFlags {
  std::string admin = "127.0.0.1:15011";  // halyard up's default layout (base 15000 + 11)
  std::string log_dir;                    // a halyard up's: its state.json names the admin
  bool open = true;
};

// Runs `xdg-open URL` detached when there is a display to open it on; true when it started.
bool openBrowser(const std::string& url) {
  if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) return false;
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::setsid();
    ::execlp("xdg-open", "xdg-open", url.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int runDashboard(DashboardFlags flags) {
  if (!flags.log_dir.empty()) {
    std::ifstream in(flags.log_dir + "/state.json");
    auto state = nlohmann::json::parse(in, nullptr, false);
    if (state.is_discarded() || !state.contains("control")) {
      std::cerr << "halyard dashboard: " << flags.log_dir
                << "/state.json does not name a control plane: give the log directory of a "
                   "running halyard up, or --admin HOST:PORT\n";
      return 1;
    }
    flags.admin = state["control"]["admin"].get<std::string>();
  }
  const auto colon = flags.admin.rfind(':');
  const int port = colon == std::string::npos ? -1 : std::atoi(flags.admin.c_str() + colon + 1);
  if (port <= 0 || port > 65535) {
    std::cerr << "halyard dashboard: --admin " << flags.admin << " is not HOST:PORT\n";
    return 1;
  }
  if (up::httpStatus(static_cast<uint16_t>(port), "/ready", 2000) != 200) {
    std::cerr << "halyard dashboard: no control plane answers at " << flags.admin
              << " (its --admin address; halyard up prints it as control-plane ADMIN)\n";
    return 1;
  }
  const std::string url = "http://" + flags.admin + "/";
  std::cout << "Dashboard: " << url << std::endl;
  if (flags.open && !openBrowser(url)) {
    std::cout << "(no browser could be opened here; open the URL above)" << std::endl;
  }
  return 0;
}

}  // namespace

void registerDashboardCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<DashboardFlags>();
  auto* cmd = app.add_subcommand(
      "dashboard",
      "Open the mesh dashboard the control plane serves (service graph, golden signals, proxy "
      "status, denials) and print its URL");
  cmd->add_option("--admin", flags->admin, "The control plane's admin address")
      ->capture_default_str();
  cmd->add_option("--log-dir", flags->log_dir,
                  "The log directory of a running halyard up (its control plane's admin)");
  cmd->add_flag("!--no-open", flags->open, "Only print the URL");
  cmd->callback([flags, &exit_code] { exit_code = runDashboard(*flags); });
}

}  // namespace halyard::cli
