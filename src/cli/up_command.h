// `halyard up DIR [--port-map 80=8080] [--base-port 15000] [--log-dir DIR]`: runs a whole mesh
// on this machine — control plane, ingress gateway(s), every Workload with its sidecar — until
// Ctrl-C or SIGTERM. docs/halyard-up.md.
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

void registerUpCommand(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
