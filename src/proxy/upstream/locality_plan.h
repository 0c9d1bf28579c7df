// Locality-aware load balancing (loadBalancer.localityLbSetting, on for clusters with outlier
// detection as in Istio), worked out once per cluster view from the proxy's own locality and
// labels and each endpoint's locality:
//  - failover (the default): priority 0 for endpoints in the proxy's region/zone/subzone, 1 for
//    its region/zone, 2 for its region, then the `failover` target region of the proxy's
//    region, then everything else. Traffic goes to the best priority that has a host in
//    service; when outlier detection ejects all of them, it fails over to the next.
//  - failoverPriority: priority = how many of the listed labels, from the first, the endpoint
//    does NOT share with the proxy (0: all of them). topology.kubernetes.io/region|zone and
//    topology.istio.io/subzone compare localities.
//  - distribute: with the first rule whose `from` matches the proxy's locality, each endpoint
//    locality gets the weight of the `to` pattern it matches (none: no traffic), and a
//    locality is picked by weight before a host within it.
// Without a proxy locality, failover gives every endpoint priority 0 (Istio does the same).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "translate/snapshot.h"

namespace halyard::proxy::upstream {

struct LocalityPlan {
  std::vector<uint32_t> priority;  // per host
  // distribute: per host, its locality group (index into group_weight); empty otherwise.
  std::vector<uint32_t> group;
  std::vector<uint32_t> group_weight;
};

LocalityPlan planLocality(const translate::LocalityLbPolicy& policy,
                          std::string_view proxy_locality,
                          const std::map<std::string, std::string>& proxy_labels,
                          const std::vector<const translate::Endpoint*>& endpoints);

// "region/zone/*", "region/*", "*" or an exact locality against a locality.
bool localityMatches(std::string_view pattern, std::string_view locality);

}  // namespace halyard::proxy::upstream
