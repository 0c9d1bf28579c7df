#include "translate/cluster_builder.h"

#include "config/model/host_name.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

LbPolicy lbPolicy(const std::string& simple) {
  if (simple == "ROUND_ROBIN") return LbPolicy::kRoundRobin;
  if (simple == "RANDOM") return LbPolicy::kRandom;
  if (simple == "PASSTHROUGH") return LbPolicy::kPassthrough;
  return LbPolicy::kLeastRequest;  // unset, UNSPECIFIED, LEAST_REQUEST, LEAST_CONN (alias)
}

// The trafficPolicy fields of `policy` that this proxy does not enforce, as field paths.
std::vector<std::string> notEnforced(const model::TrafficPolicy& policy) {
  std::vector<std::string> out;
  auto add = [&](bool set, const char* field) {
    if (set) out.push_back(std::string("trafficPolicy.") + field);
  };
  if (const auto& cp = policy.connection_pool) {
    add(cp->http.has_value(), "connectionPool.http");
    if (const auto& tcp = cp->tcp) {
      // connectTimeout is enforced (Cluster::connect_timeout).
      add(tcp->max_connections.has_value(), "connectionPool.tcp.maxConnections");
      add(tcp->tcp_keepalive.has_value(), "connectionPool.tcp.tcpKeepalive");
      add(tcp->idle_timeout.has_value(), "connectionPool.tcp.idleTimeout");
      add(tcp->max_connection_duration.has_value(), "connectionPool.tcp.maxConnectionDuration");
    }
  }
  add(policy.outlier_detection.has_value(), "outlierDetection");
  if (const auto& lb = policy.load_balancer) {
    add(lb->consistent_hash.has_value(), "loadBalancer.consistentHash");
    add(lb->locality_lb_setting.has_value(), "loadBalancer.localityLbSetting");
    add(lb->warmup.has_value() || lb->warmup_duration_secs.has_value(), "loadBalancer.warmup");
    add(lb->zone_aware_lb_setting.has_value(), "loadBalancer.zoneAwareLbSetting");
    add(lb->backend_utilization.has_value(), "loadBalancer.backendUtilization");
  }
  // Plaintext (DISABLE) is what the proxy does anyway.
  add(policy.tls && policy.tls->mode.value_or("DISABLE") != "DISABLE", "tls");
  add(policy.tunnel.has_value(), "tunnel");
  add(policy.proxy_protocol.has_value(), "proxyProtocol");
  add(policy.retry_budget.has_value(), "retryBudget");
  return out;
}

}  // namespace

ClusterBuilder::ClusterBuilder(const ServiceRegistry& registry, const DestinationRuleIndex& rules,
                               std::string proxy_namespace, DiagnosticSink& sink)
    : registry_(registry),
      rules_(rules),
      proxy_namespace_(std::move(proxy_namespace)),
      sink_(sink) {}

std::string ClusterBuilder::resolve(const model::Destination& destination,
                                    const DestinationRef& ref, std::string_view route_namespace,
                                    uint16_t listener_port) {
  const std::string host = toLower(destination.host.value_or(""));
  const std::string subset = destination.subset.value_or("");
  const RegistryService* service = registry_.find(host, route_namespace, proxy_namespace_);
  uint16_t port = listener_port;
  if (destination.port && destination.port->number) {
    port = static_cast<uint16_t>(*destination.port->number);
  } else if (service && service->ports.size() == 1) {
    port = service->ports.front().number;
  }
  const std::string name = "outbound|" + std::to_string(port) + "|" + subset + "|" + host;

  auto [it, first_time] = resolved_.try_emplace(name, false);
  if (first_time && service) {
    if (const RegistryPort* p = service->port(port)) {
      build(name, *service, *p, subset);
      it->second = clusters_.count(name) > 0;
    }
  }
  if (!it->second) {
    std::string why;
    if (!service) {
      why = "destination host " + host + " matches no Service or ServiceEntry visible to the proxy";
    } else if (!service->port(port)) {
      why = "service " + host + " has no port " + std::to_string(port);
    } else {
      why = "subset \"" + subset + "\" of " + host + " is not defined by any DestinationRule";
    }
    sink_.report(kUnresolvedDestination, *ref.meta, destination.line, ref.field_path,
                 why + "; requests routed to " + name + " get 503 NC");
  }
  return name;
}

void ClusterBuilder::build(const std::string& name, const RegistryService& service,
                           const RegistryPort& port, const std::string& subset) {
  const auto rule = rules_.lookup(service.host, service.namespace_);
  const model::Subset* subset_def = nullptr;
  if (!subset.empty()) {
    if (rule) subset_def = rule->subset(subset);
    if (!subset_def) return;
  }
  Cluster c;
  c.name = name;
  c.service_host = service.host;
  c.service_name = service.name;
  c.service_namespace = service.namespace_;
  c.port = port.number;
  c.subset = subset;
  c.resolve_dns = service.resolve_dns;
  for (auto& e : registry_.endpoints(service, port, sink_)) {
    if (subset_def && !model::selectorMatches(subset_def->labels, e.labels)) continue;
    c.endpoints.push_back(std::move(e));
  }
  const model::TrafficPolicy policy =
      effectiveTrafficPolicy(rule ? rule->traffic_policy : nullptr, subset_def, port.number);
  if (policy.load_balancer) c.lb = lbPolicy(policy.load_balancer->simple.value_or(""));
  consistent_hash_[name] = policy.load_balancer && policy.load_balancer->consistent_hash;
  if (policy.connection_pool && policy.connection_pool->tcp &&
      policy.connection_pool->tcp->connect_timeout) {
    if (auto t = parseMillis(*policy.connection_pool->tcp->connect_timeout); t && t->count() > 0) {
      c.connect_timeout = *t;
    }
  }
  c.not_enforced = notEnforced(policy);
  if (rule) {
    const model::DestinationRule& dr = *rule->rules.front();
    for (const auto& field : c.not_enforced) {
      sink_.report(kNotServed, dr.meta, dr.spec.line, "spec." + field,
                   field + " is parsed but not enforced by this proxy yet");
    }
  }
  clusters_.emplace(name, std::move(c));
}

void ClusterBuilder::add(Cluster cluster) {
  resolved_[cluster.name] = true;
  std::string name = cluster.name;
  clusters_.insert_or_assign(std::move(name), std::move(cluster));
}

bool ClusterBuilder::usesConsistentHash(const std::string& cluster_name) const {
  auto it = consistent_hash_.find(cluster_name);
  return it != consistent_hash_.end() && it->second;
}

}  // namespace halyard::translate
