// Host selection for one attempt of a request, per worker (no shared counters):
//  - ROUND_ROBIN: the next host in order;
//  - RANDOM: a uniformly random host;
//  - LEAST_REQUEST: the power of two choices, the one of two random hosts with fewer requests
//    in flight from this worker (Envoy's default for equal weights).
// Endpoint weights, when they differ, scale each policy: smooth weighted round robin, weighted
// random picks, and in-flight requests compared per unit of weight.
// Hosts in `tried` (earlier attempts of the same request) are skipped while another host exists:
// Istio's "previous hosts" retry predicate.
#pragma once

#include <span>

#include "proxy/upstream/cluster_hosts.h"
#include "proxy/upstream/fast_random.h"

namespace halyard::proxy::upstream {

// Null when the cluster has no hosts.
UpstreamHost* pickHost(ClusterHosts& cluster, FastRandom& random,
                       std::span<UpstreamHost* const> tried);

}  // namespace halyard::proxy::upstream
