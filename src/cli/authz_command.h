// `halyard authz check WORKLOAD`, like `istioctl x authz check`: the AuthorizationPolicies that
// apply to one workload (a sidecar's app, or a gateway) with their action and what each rule
// allows or denies, from a directory of config (`--dir`, as `halyard up` runs it) or from a
// running control plane (the proxy's pushed config, as `halyard proxy-config` reads it).
#pragma once

#include <CLI/CLI.hpp>

namespace halyard::cli {

void registerAuthzCommand(CLI::App& app, int& exit_code);

}  // namespace halyard::cli
