// Host selection for one attempt of a request, per worker (no shared counters):
//  - ROUND_ROBIN: the next host in order;
//  - RANDOM: a uniformly random host;
//  - LEAST_REQUEST: the power of two choices, the one of two distinct random hosts with fewer
//    requests in flight from this worker (Envoy's default for equal weights, except that Envoy
//    may draw the same host twice);
//  - consistentHash (`hash` given): the ring's or Maglev table's host for the request's key.
// Endpoint weights, when they differ, scale each policy: smooth weighted round robin, weighted
// random picks, and in-flight requests compared per unit of weight; warmup (slow start) scales
// a new host's weight further.
//
// Clusters with a traffic policy that filters hosts take a general path: hosts that outlier
// detection ejected are skipped (unless fewer than minHealthPercent are left: panic, when all
// hosts are used), locality balancing keeps the best priority that has a host in service (and
// with `distribute`, picks a locality by weight first), and a hashed key whose host is out of
// service moves on along the ring.
// Hosts in `tried` (earlier attempts of the same request) are skipped while another host exists:
// Istio's "previous hosts" retry predicate.
#pragma once

#include <optional>
#include <span>

#include "proxy/upstream/cluster_hosts.h"
#include "proxy/upstream/fast_random.h"

namespace halyard::proxy::upstream {

// Null when the cluster has no hosts (or none in service).
UpstreamHost* pickHost(ClusterHosts& cluster, FastRandom& random,
                       std::span<UpstreamHost* const> tried,
                       std::optional<uint64_t> hash = std::nullopt);

}  // namespace halyard::proxy::upstream
