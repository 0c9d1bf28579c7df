#include "translate/destination_rule_index.h"

#include <algorithm>

#include "config/model/host_name.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

const model::Subset* MergedDestinationRule::subset(std::string_view name) const {
  for (const auto* s : subsets) {
    if (s->name && *s->name == name) return s;
  }
  return nullptr;
}

DestinationRuleIndex::DestinationRuleIndex(const model::ConfigSet& config,
                                           std::string proxy_namespace,
                                           std::map<std::string, std::string> proxy_labels,
                                           std::string root_namespace)
    : proxy_namespace_(std::move(proxy_namespace)),
      proxy_labels_(std::move(proxy_labels)),
      root_namespace_(std::move(root_namespace)) {
  std::vector<const model::DestinationRule*> rules;
  for (const auto& dr : config.destination_rules) rules.push_back(&dr);
  std::stable_sort(rules.begin(), rules.end(),
                   [](const auto* a, const auto* b) { return createdBefore(a->meta, b->meta); });
  for (const auto* dr : rules) {
    const std::string& ns = namespaceOf(dr->meta);
    Entry e{dr, toLower(model::resolveShortName(dr->spec.host.value_or(""), ns))};
    Scope& scope = by_namespace_[ns];
    if (e.host.starts_with("*")) {
      scope.wildcards.push_back(std::move(e));
    } else {
      std::string host = e.host;
      scope.exact[host].push_back(std::move(e));
    }
  }
}

// Every rule of the proxy's own namespace applies, exported ones elsewhere; a rule with a
// workloadSelector applies only to the workloads it selects in its own namespace.
bool DestinationRuleIndex::applies(const Entry& e, std::string_view scope) const {
  const auto& spec = e.rule->spec;
  if (spec.workload_selector) {
    return scope == proxy_namespace_ &&
           model::selectorMatches(spec.workload_selector->match_labels, proxy_labels_);
  }
  return scope == proxy_namespace_ || model::isVisible(spec.export_to, scope, proxy_namespace_);
}

std::optional<MergedDestinationRule> DestinationRuleIndex::lookupIn(std::string_view scope,
                                                                    std::string_view host) const {
  auto it = by_namespace_.find(scope);
  if (it == by_namespace_.end()) return std::nullopt;
  // Most specific host: exact beats wildcard, a longer wildcard beats a shorter one.
  std::vector<const Entry*> candidates;
  if (auto exact = it->second.exact.find(host); exact != it->second.exact.end()) {
    for (const auto& e : exact->second) {
      if (applies(e, scope)) candidates.push_back(&e);
    }
  }
  if (candidates.empty()) {
    const std::string* best = nullptr;
    for (const auto& e : it->second.wildcards) {
      if ((!best || e.host.size() > best->size()) && model::hostSubsetOf(host, e.host) &&
          applies(e, scope)) {
        best = &e.host;
      }
    }
    if (!best) return std::nullopt;
    for (const auto& e : it->second.wildcards) {
      if (e.host == *best && applies(e, scope)) candidates.push_back(&e);
    }
  }
  // Rules that select this proxy take precedence over (and never merge with) those that do not.
  bool any_selector = false;
  for (const auto* e : candidates) any_selector |= e->rule->spec.workload_selector.has_value();
  MergedDestinationRule merged;
  for (const auto* e : candidates) {
    if (e->rule->spec.workload_selector.has_value() != any_selector) continue;
    merged.rules.push_back(e->rule);
    if (!merged.traffic_policy && e->rule->spec.traffic_policy) {
      merged.traffic_policy = &*e->rule->spec.traffic_policy;
    }
    for (const auto& s : e->rule->spec.subsets) {
      if (!merged.subset(s.name.value_or(""))) merged.subsets.push_back(&s);
    }
  }
  return merged;
}

std::optional<MergedDestinationRule> DestinationRuleIndex::lookup(
    std::string_view host, std::string_view service_namespace) const {
  const std::string_view scopes[] = {proxy_namespace_, service_namespace, root_namespace_};
  for (size_t i = 0; i < 3; ++i) {
    if (scopes[i].empty() || std::find(scopes, scopes + i, scopes[i]) != scopes + i) continue;
    if (auto found = lookupIn(scopes[i], host)) return found;
  }
  return std::nullopt;
}

namespace {

// A policy with its port-level entry for `port` (if any) replacing the four port-level blocks
// (fields missing in the entry fall back to defaults, not to the top level).
model::TrafficPolicy flatten(const model::TrafficPolicy& policy, uint16_t port) {
  model::TrafficPolicy out = policy;
  out.port_level_settings.clear();
  for (const auto& p : policy.port_level_settings) {
    if (p.port && p.port->number && *p.port->number == port) {
      out.connection_pool = p.connection_pool;
      out.outlier_detection = p.outlier_detection;
      out.load_balancer = p.load_balancer;
      out.tls = p.tls;
      break;
    }
  }
  return out;
}

}  // namespace

model::TrafficPolicy effectiveTrafficPolicy(const model::TrafficPolicy* top,
                                            const model::Subset* subset, uint16_t port) {
  model::TrafficPolicy out = top ? flatten(*top, port) : model::TrafficPolicy{};
  if (!subset || !subset->traffic_policy) return out;
  const model::TrafficPolicy& sub = *subset->traffic_policy;
  // Istio's MergeTrafficPolicy: every block the subset sets replaces the whole block...
  if (sub.connection_pool) out.connection_pool = sub.connection_pool;
  if (sub.outlier_detection) out.outlier_detection = sub.outlier_detection;
  if (sub.load_balancer) out.load_balancer = sub.load_balancer;
  if (sub.tls) out.tls = sub.tls;
  if (sub.tunnel) out.tunnel = sub.tunnel;
  if (sub.proxy_protocol) out.proxy_protocol = sub.proxy_protocol;
  if (sub.retry_budget) out.retry_budget = sub.retry_budget;
  // ...then the subset's port-level entry for the port replaces all four port-level blocks,
  // even those it leaves unset (they fall back to defaults, not to anything above).
  for (const auto& p : sub.port_level_settings) {
    if (p.port && p.port->number && *p.port->number == port) {
      out.connection_pool = p.connection_pool;
      out.outlier_detection = p.outlier_detection;
      out.load_balancer = p.load_balancer;
      out.tls = p.tls;
      break;
    }
  }
  return out;
}

namespace {

// The path of `policy`'s tls on `port` once flattened (as flatten picks it), "" when none.
std::string flattenedTlsPath(const model::TrafficPolicy& policy, uint16_t port,
                             const std::string& prefix) {
  for (size_t i = 0; i < policy.port_level_settings.size(); ++i) {
    const auto& p = policy.port_level_settings[i];
    if (p.port && p.port->number && *p.port->number == port) {
      return p.tls ? prefix + "portLevelSettings[" + std::to_string(i) + "].tls" : "";
    }
  }
  return policy.tls ? prefix + "tls" : "";
}

}  // namespace

std::string effectiveTlsPath(const model::TrafficPolicy* top, const model::Subset* subset,
                             uint16_t port) {
  if (subset && subset->traffic_policy) {
    const model::TrafficPolicy& sub = *subset->traffic_policy;
    const std::string prefix = "subsets[" + subset->name.value_or("") + "].trafficPolicy.";
    for (size_t i = 0; i < sub.port_level_settings.size(); ++i) {
      const auto& p = sub.port_level_settings[i];
      if (p.port && p.port->number && *p.port->number == port) {
        return p.tls ? prefix + "portLevelSettings[" + std::to_string(i) + "].tls" : "";
      }
    }
    if (sub.tls) return prefix + "tls";
  }
  return top ? flattenedTlsPath(*top, port, "trafficPolicy.") : "";
}

}  // namespace halyard::translate
