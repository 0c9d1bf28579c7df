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
  // Two distinct hosts: with replacement, a slow host would still win every time both choices
  // land on it (1/n^2 of the picks), enough to own the p99 of a small cluster.
  size_t b = weighted ? anyHost() : (a + 1 + random.below(n - 1)) % n;
  for (int i = 0; i < 3 && b == a; ++i) b = anyHost();
  // Fewer requests in flight per unit of weight wins (cross-multiplied: no division).
  const uint64_t load_a = uint64_t{hosts[a]->active_requests} * cluster.weight(b);
  const uint64_t load_b = uint64_t{hosts[b]->active_requests} * cluster.weight(a);
  return hosts[load_b < load_a ? b : a].get();
}

UpstreamHost* pickSimple(ClusterHosts& cluster, FastRandom& random,
                         std::span<UpstreamHost* const> tried) {
  const auto& hosts = cluster.hosts();
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

// The general path: candidates first (in service, best locality priority, distribute group),
// then the policy among them.
UpstreamHost* pickFiltered(ClusterHosts& cluster, FastRandom& random,
                           std::span<UpstreamHost* const> tried, std::optional<uint64_t> hash) {
  const auto& hosts = cluster.hosts();
  const size_t n = hosts.size();
  const translate::Cluster& config = cluster.cluster();
  const int64_t now_ns = steadyNowNs();
  const LocalityPlan& plan = cluster.locality();

  // Hashing without locality: the key's own host whenever it is in service and untried (the
  // common case, which then costs one ring lookup).
  if (hash && !cluster.ring().empty() && plan.priority.empty() && plan.group.empty()) {
    const uint32_t i = cluster.ring().pick(*hash);
    if (i < n && (!config.outlier || !cluster.health(i).ejected(now_ns)) &&
        !wasTried(tried, hosts[i].get())) {
      return hosts[i].get();
    }
  }

  // Nothing ejected (the usual case) and nothing else to filter: the simple path.
  const bool none_ejected =
      !config.outlier || cluster.state().ejections_end.load(std::memory_order_relaxed) <= now_ns;
  if (none_ejected && !hash && plan.priority.empty() && plan.group.empty() && !config.warmup) {
    return pickSimple(cluster, random, tried);
  }

  // In service: not ejected, unless panic (fewer than minHealthPercent in service).
  std::vector<uint32_t>& candidates = cluster.scratch();
  candidates.clear();
  for (uint32_t i = 0; i < n; ++i) {
    if (!config.outlier || !cluster.health(i).ejected(now_ns)) candidates.push_back(i);
  }
  if (config.outlier && config.outlier->min_health_percent > 0 &&
      candidates.size() * 100 < config.outlier->min_health_percent * n) {
    candidates.clear();
    for (uint32_t i = 0; i < n; ++i) candidates.push_back(i);
  }
  if (candidates.empty()) return nullptr;

  // Locality: the best priority that has a candidate; with distribute, a group by weight.
  if (!plan.priority.empty()) {
    uint32_t best = UINT32_MAX;
    for (uint32_t i : candidates) best = std::min(best, plan.priority[i]);
    std::erase_if(candidates, [&](uint32_t i) { return plan.priority[i] != best; });
  }
  if (!plan.group.empty()) {
    uint64_t total = 0;
    // Weight of each group that has a candidate, counted once per group.
    std::vector<uint8_t> seen(plan.group_weight.size(), 0);
    for (uint32_t i : candidates) {
      if (!seen[plan.group[i]]) total += plan.group_weight[plan.group[i]];
      seen[plan.group[i]] = 1;
    }
    if (total > 0) {
      uint64_t r = random.below(total);
      uint32_t chosen = 0;
      for (size_t g = 0; g < seen.size(); ++g) {
        if (!seen[g]) continue;
        if (r < plan.group_weight[g]) {
          chosen = static_cast<uint32_t>(g);
          break;
        }
        r -= plan.group_weight[g];
      }
      std::erase_if(candidates, [&](uint32_t i) { return plan.group[i] != chosen; });
    } else {
      return nullptr;  // distribute sends nothing to any locality in service
    }
  }

  auto usable = [&](uint32_t i) {
    return std::find(candidates.begin(), candidates.end(), i) != candidates.end();
  };
  // Untried candidates, when there are any.
  if (!tried.empty()) {
    const bool any_untried = std::any_of(candidates.begin(), candidates.end(), [&](uint32_t i) {
      return !wasTried(tried, hosts[i].get());
    });
    if (any_untried) {
      std::erase_if(candidates, [&](uint32_t i) { return wasTried(tried, hosts[i].get()); });
    }
  }

  if (hash && !cluster.ring().empty()) {
    for (uint32_t attempt = 0; attempt < std::max<size_t>(n, 16); ++attempt) {
      const uint32_t i = cluster.ring().pick(*hash, attempt);
      if (i < n && usable(i)) return hosts[i].get();
    }
    return hosts[candidates.front()].get();
  }

  if (candidates.size() == 1) return hosts[candidates.front()].get();
  const auto now = std::chrono::steady_clock::now();
  const bool weighted = cluster.weighted() || config.warmup.has_value();
  auto weightOf = [&](uint32_t i) {
    return weighted ? std::max(cluster.warmupWeight(i, now), 1e-3) : 1.0;
  };
  auto anyCandidate = [&]() -> uint32_t {
    if (!weighted) return candidates[random.below(candidates.size())];
    double total = 0;
    for (uint32_t i : candidates) total += weightOf(i);
    double r = static_cast<double>(random.next() >> 11) * 0x1.0p-53 * total;
    for (uint32_t i : candidates) {
      r -= weightOf(i);
      if (r < 0) return i;
    }
    return candidates.back();
  };
  switch (config.lb) {
    case translate::LbPolicy::kRoundRobin: {
      if (!weighted) {
        // The next candidate in order after the cursor.
        const uint64_t start = cluster.nextCursor() % n;
        for (size_t k = 0; k < n; ++k) {
          const uint32_t i = static_cast<uint32_t>((start + k) % n);
          if (usable(i) && std::find(candidates.begin(), candidates.end(), i) != candidates.end())
            return hosts[i].get();
        }
      }
      return hosts[anyCandidate()].get();
    }
    case translate::LbPolicy::kRandom:
      return hosts[anyCandidate()].get();
    case translate::LbPolicy::kLeastRequest:
    case translate::LbPolicy::kPassthrough:
      break;
  }
  const uint32_t a = anyCandidate();
  uint32_t b = anyCandidate();
  for (int i = 0; i < 3 && b == a; ++i) b = anyCandidate();  // distinct, as above
  const double load_a = (hosts[a]->active_requests + 1) / weightOf(a);
  const double load_b = (hosts[b]->active_requests + 1) / weightOf(b);
  return hosts[load_b < load_a ? b : a].get();
}

}  // namespace

UpstreamHost* pickHost(ClusterHosts& cluster, FastRandom& random,
                       std::span<UpstreamHost* const> tried, std::optional<uint64_t> hash) {
  if (cluster.hosts().empty()) return nullptr;
  if (cluster.filtered()) return pickFiltered(cluster, random, tried, hash);
  return pickSimple(cluster, random, tried);
}

}  // namespace halyard::proxy::upstream
