// A DestinationRule's effective traffic policy (effectiveTrafficPolicy: subset and port-level
// settings already merged) compiled into a Cluster: the connection pool limits, outlier
// detection, consistent hashing, locality load balancing and warmup, with Istio's defaults
// filled in, so the proxy never reads the config model (istio-semantics.md §3.3-§3.5).
#pragma once

#include <map>
#include <string>

#include "config/model/istio_types.h"
#include "translate/snapshot.h"

namespace halyard::translate {

// Everything of `policy` the proxy enforces, into `c` (whose other fields it leaves alone).
void compileTrafficPolicy(const config::model::TrafficPolicy& policy, Cluster& c);

// An endpoint's locality when its source names none: Kubernetes' topology labels
// (topology.kubernetes.io/region, .../zone, topology.istio.io/subzone), "" without a region.
std::string localityFromLabels(const std::map<std::string, std::string>& labels);

}  // namespace halyard::translate
