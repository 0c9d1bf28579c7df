// Which DestinationRule applies to a destination host for one proxy, and the traffic policy it
// gives a subset on a port (istio-semantics.md §3.1, §3.2).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model/config_set.h"

namespace halyard::translate {

// Every DestinationRule of one scope for the most specific matching host, merged: subsets
// concatenated (first of a name wins), the top-level policy of the oldest rule that has one.
struct MergedDestinationRule {
  std::vector<const config::model::DestinationRule*> rules;  // oldest first
  std::vector<const config::model::Subset*> subsets;
  const config::model::TrafficPolicy* traffic_policy = nullptr;

  const config::model::Subset* subset(std::string_view name) const;
};

class DestinationRuleIndex {
 public:
  DestinationRuleIndex(const config::model::ConfigSet& config, std::string proxy_namespace,
                       std::map<std::string, std::string> proxy_labels,
                       std::string root_namespace = "istio-system");

  // Looked up in the proxy's namespace (every rule there), then among rules exported to it from
  // the service's namespace, then from the root namespace; the first scope with a rule for
  // `host` wins.
  std::optional<MergedDestinationRule> lookup(std::string_view host,
                                              std::string_view service_namespace) const;

 private:
  struct Entry {
    const config::model::DestinationRule* rule;
    std::string host;  // resolved in the rule's namespace, lowercase
  };
  // The rules of one namespace, each list in configuration order.
  struct Scope {
    std::map<std::string, std::vector<Entry>, std::less<>> exact;  // by host
    std::vector<Entry> wildcards;
  };
  std::optional<MergedDestinationRule> lookupIn(std::string_view scope_namespace,
                                                std::string_view host) const;
  bool applies(const Entry& e, std::string_view scope_namespace) const;

  std::map<std::string, Scope, std::less<>> by_namespace_;
  std::string proxy_namespace_;
  std::map<std::string, std::string> proxy_labels_;
  std::string root_namespace_;
};

// The policy in effect for traffic to `subset` (null: none) on `port`, as Istio's
// MergeTrafficPolicy computes it: the top-level policy with its port-level entry for `port`
// replacing loadBalancer, connectionPool, outlierDetection and tls; then every block the
// subset's policy sets replaces the whole block; then the subset's own port-level entry for
// `port`, if any, replaces all four port-level blocks (unset ones become defaults). No deep
// merge inside a block.
config::model::TrafficPolicy effectiveTrafficPolicy(const config::model::TrafficPolicy* top,
                                                    const config::model::Subset* subset,
                                                    uint16_t port);

// Where the tls block of effectiveTrafficPolicy(top, subset, port) comes from, relative to the
// rule's spec: "trafficPolicy.tls", "trafficPolicy.portLevelSettings[1].tls",
// "subsets[v1].trafficPolicy.tls", ...; "" when the effective policy has none.
std::string effectiveTlsPath(const config::model::TrafficPolicy* top,
                             const config::model::Subset* subset, uint16_t port);

}  // namespace halyard::translate
