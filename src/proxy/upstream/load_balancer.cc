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
  switch (cluster.cluster().lb) {
    case translate::LbPolicy::kRoundRobin: return hosts[cluster.nextCursor() % n].get();
    case translate::LbPolicy::kRandom: return hosts[random.below(n)].get();
    case translate::LbPolicy::kLeastRequest:
    case translate::LbPolicy::kPassthrough: break;
  }
  UpstreamHost* a = hosts[random.below(n)].get();
  if (n == 1) return a;
  UpstreamHost* b = hosts[random.below(n)].get();
  return b->active_requests < a->active_requests ? b : a;
}

}  // namespace

UpstreamHost* pickHost(ClusterHosts& cluster, FastRandom& random,
                       std::span<UpstreamHost* const> tried) {
  const auto& hosts = cluster.hosts();
  if (hosts.empty()) return nullptr;
  UpstreamHost* pick = pickOnce(cluster, random);
  for (int i = 1; i < kSelectionAttempts && wasTried(tried, pick); ++i) pick = pickOnce(cluster, random);
  if (!wasTried(tried, pick)) return pick;
  // The random picks kept landing on tried hosts; take the first untried one if any.
  for (const auto& h : hosts) {
    if (!wasTried(tried, h.get())) return h.get();
  }
  return pick;
}

}  // namespace halyard::proxy::upstream
