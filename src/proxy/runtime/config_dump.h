// Read-only views of the serving snapshot for the admin endpoints: /config_dump (JSON: listeners,
// virtual hosts, routes, clusters and their endpoints) and /clusters (one line per endpoint).
#pragma once

#include <string>

#include "proxy/upstream/shared_upstream.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

std::string configDumpJson(const translate::Snapshot& snapshot);
// Envoy's /clusters text: the circuit-breaker thresholds of each cluster
// ("<cluster>::default_priority::max_connections::<n>") and, per endpoint, its health
// ("<cluster>::<ip>:<port>::health_flags::healthy", or "/failed_outlier_check" while outlier
// detection has it ejected — read from `shared`, which may be null), weight and locality.
std::string clustersText(const translate::Snapshot& snapshot,
                         upstream::SharedUpstream* shared = nullptr);

}  // namespace halyard::proxy::runtime
