// The processes of a plan, as the supervisor runs them: the control plane, one halyard-proxy per
// gateway, and per workload its sidecar (halyard-proxy --role sidecar) and its app, with the
// order between them and each one's environment and log file.
#pragma once

#include <vector>

#include "up/supervisor.h"
#include "up/up_plan.h"

namespace halyard::up {

// Index 0 is the control plane, then the gateways, then per workload its sidecar and its app.
// Every process inherits `base_env` (an environ-style, null-terminated array); an app also gets
// PORT, HTTP_PROXY/http_proxy (its sidecar's outbound listener), NO_PROXY/no_proxy,
// HALYARD_WORKLOAD and HALYARD_NAMESPACE, then its declared env, with $(VAR) references expanded
// in env values and command arguments.
std::vector<ProcessSpec> processSpecs(const UpPlan& plan, char* const* base_env);

}  // namespace halyard::up
