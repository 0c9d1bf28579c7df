// Read-only views of the serving snapshot for the admin endpoints: /config_dump (JSON: listeners,
// virtual hosts, routes, clusters and their endpoints) and /clusters (one line per endpoint).
#pragma once

#include <string>

#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

std::string configDumpJson(const translate::Snapshot& snapshot);
std::string clustersText(const translate::Snapshot& snapshot);

}  // namespace halyard::proxy::runtime
