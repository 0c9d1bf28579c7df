#include "proxy/upstream/load_balancer.h"

#include <algorithm>

namespace halyard::proxy::upstream {

namespace {

bool wasTried(std::span<UpstreamHost* const> tried, const UpstreamHost* h) {
  return std::find(tried.begin(), tried.end(), h) != tried.end();
}

// Envoy retries host selection a bounded number of times when the predicate rejects a host.
constexpr int kSelectionAttempts = 5;

UpstreamHost* pickOnce(ClusterHosts& cluster, FastRandom& random) {
  const auto& hosts = cluster.hosts();
  const size_t n = hosts.size();
  const bool weighted = cluster.weighted();
  auto anyHost = [&]() -> size_t {
    return weighted ? cluster.weightedIndex(random.below(cluster.totalWeight())) : random.below(n);
  };
  switch (cluster.cluster().lb) {
    case translate::LbPolicy::kRoundRobin:
      return hosts[weighted ? cluster.nextWeightedRoundRobin() : cluster.nextCursor() % n].get();
    case translate::LbPolicy::kRandom:
      return hosts[anyHost()].get();
    case translate::LbPolicy::kLeastRequest:
    case translate::LbPolicy::kPassthrough:
      break;
  }
  const size_t a = anyHost();
  if (n == 1) return hosts[a].get();
  const size_t b = anyHost();
  // Fewer requests in flight per unit of weight wins (cross-multiplied: no division).
  const uint64_t load_a = uint64_t{hosts[a]->active_requests} * cluster.weight(b);
  const uint64_t load_b = uint64_t{hosts[b]->active_requests} * cluster.weight(a);
  return hosts[load_b < load_a ? b : a].get();
}

}  // namespace

UpstreamHost* pickHost(ClusterHosts& cluster, FastRandom& random,
                       std::span<UpstreamHost* const> tried) {
  const auto& hosts = cluster.hosts();
  if (hosts.empty()) return nullptr;
  UpstreamHost* pick = pickOnce(cluster, random);
  for (int i = 1; i < kSelectionAttempts && wasTried(tried, pick); ++i)
    pick = pickOnce(cluster, random);
  if (!wasTried(tried, pick)) return pick;
  // The random picks kept landing on tried hosts; take the first untried one if any.
  for (const auto& h : hosts) {
    if (!wasTried(tried, h.get())) return h.get();
  }
  return pick;
}

}  // namespace halyard::proxy::upstream
