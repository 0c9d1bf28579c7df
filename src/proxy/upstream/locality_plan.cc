#include "proxy/upstream/locality_plan.h"

#include <array>

namespace halyard::proxy::upstream {

namespace {

std::array<std::string_view, 3> split(std::string_view locality) {
  std::array<std::string_view, 3> out{};
  for (size_t i = 0; i < 3 && !locality.empty(); ++i) {
    const size_t slash = locality.find('/');
    out[i] = locality.substr(0, slash);
    locality = slash == std::string_view::npos ? std::string_view() : locality.substr(slash + 1);
  }
  return out;
}

std::string_view labelValue(const std::map<std::string, std::string>& labels,
                            std::string_view locality, const std::string& key) {
  const auto parts = split(locality);
  if (key == "topology.kubernetes.io/region") return parts[0];
  if (key == "topology.kubernetes.io/zone") return parts[1];
  if (key == "topology.istio.io/subzone") return parts[2];
  auto it = labels.find(key);
  return it == labels.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace

bool localityMatches(std::string_view pattern, std::string_view locality) {
  const auto p = split(pattern);
  const auto l = split(locality);
  for (size_t i = 0; i < 3; ++i) {
    if (p[i] == "*") return true;
    if (p[i].empty()) return l[i].empty() || i > 0;
    if (p[i] != l[i]) return false;
  }
  return true;
}

LocalityPlan planLocality(const translate::LocalityLbPolicy& policy,
                          std::string_view proxy_locality,
                          const std::map<std::string, std::string>& proxy_labels,
                          const std::vector<const translate::Endpoint*>& endpoints) {
  LocalityPlan plan;
  plan.priority.assign(endpoints.size(), 0);
  if (!policy.distribute.empty()) {
    for (const auto& rule : policy.distribute) {
      if (!localityMatches(rule.from, proxy_locality)) continue;
      std::map<std::string, uint32_t> groups;  // endpoint locality -> group
      plan.group.assign(endpoints.size(), 0);
      for (size_t i = 0; i < endpoints.size(); ++i) {
        const std::string& loc = endpoints[i] ? endpoints[i]->locality : std::string();
        auto [it, added] = groups.try_emplace(loc, static_cast<uint32_t>(groups.size()));
        if (added) {
          // The most specific (longest) matching pattern decides the locality's weight.
          uint32_t weight = 0;
          size_t best = 0;
          for (const auto& [pattern, w] : rule.to) {
            if (localityMatches(pattern, loc) && pattern.size() >= best) {
              best = pattern.size();
              weight = w;
            }
          }
          plan.group_weight.push_back(weight);
        }
        plan.group[i] = it->second;
      }
      return plan;
    }
    return plan;
  }
  if (!policy.failover_priority.empty()) {
    const uint32_t n = static_cast<uint32_t>(policy.failover_priority.size());
    for (size_t i = 0; i < endpoints.size(); ++i) {
      if (!endpoints[i]) continue;
      uint32_t matched = 0;
      for (const auto& key : policy.failover_priority) {
        const std::string_view mine = labelValue(proxy_labels, proxy_locality, key);
        const std::string_view theirs =
            labelValue(endpoints[i]->labels, endpoints[i]->locality, key);
        if (mine.empty() || mine != theirs) break;
        ++matched;
      }
      plan.priority[i] = n - matched;
    }
    return plan;
  }
  if (proxy_locality.empty()) return plan;
  const auto me = split(proxy_locality);
  std::string_view failover_to;
  for (const auto& [from, to] : policy.failover) {
    if (from == me[0]) failover_to = to;
  }
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const auto them = split(endpoints[i] ? std::string_view(endpoints[i]->locality) : "");
    uint32_t p = 4;
    if (!them[0].empty() && them[0] == me[0]) {
      p = them[1] != me[1] ? 2 : (them[2] != me[2] ? 1 : 0);
    } else if (!failover_to.empty() && them[0] == failover_to) {
      p = 3;
    }
    plan.priority[i] = p;
  }
  return plan;
}

}  // namespace halyard::proxy::upstream
