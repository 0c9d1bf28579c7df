#include "translate/traffic_policy_compiler.h"

#include <algorithm>
#include <limits>

#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

// Istio writes 2^32-1 for an unset limit and treats 0 as unset: both mean "no limit" here.
uint32_t limit(const std::optional<int64_t>& v) {
  if (!v || *v <= 0 || *v >= std::numeric_limits<uint32_t>::max()) return 0;
  return static_cast<uint32_t>(*v);
}

Millis duration(const std::optional<std::string>& v, Millis fallback) {
  if (!v) return fallback;
  const auto parsed = parseMillis(*v);
  return parsed && parsed->count() > 0 ? *parsed : fallback;
}

void compilePool(const model::ConnectionPoolSettings& cp, ConnectionPoolPolicy& p) {
  Millis tcp_idle{0};
  if (const auto& tcp = cp.tcp) {
    p.max_connections = limit(tcp->max_connections);
    p.max_connection_duration = duration(tcp->max_connection_duration, Millis{0});
    tcp_idle = duration(tcp->idle_timeout, Millis{0});
    if (const auto& ka = tcp->tcp_keepalive) {
      p.tcp_keepalive = true;
      p.keepalive_time = duration(ka->time, Millis{0});
      p.keepalive_interval = duration(ka->interval, Millis{0});
      p.keepalive_probes = limit(ka->probes);
    }
  }
  Millis http_idle{0};
  if (const auto& http = cp.http) {
    p.max_pending_requests = limit(http->http1_max_pending_requests);
    p.max_requests = limit(http->http2_max_requests);
    p.max_retries = limit(http->max_retries);
    p.max_requests_per_connection = limit(http->max_requests_per_connection);
    p.max_concurrent_streams = limit(http->max_concurrent_streams);
    http_idle = duration(http->idle_timeout, Millis{0});
  }
  // Istio: http.idleTimeout, else tcp.idleTimeout (for HTTP clusters too), else 1 h.
  p.idle_timeout = http_idle.count() > 0 ? http_idle : tcp_idle;
}

OutlierPolicy compileOutlier(const model::OutlierDetection& o) {
  OutlierPolicy out;
  // The deprecated consecutiveErrors meant gateway errors (Istio maps it so).
  if (o.consecutive_errors && !o.consecutive_gateway_errors && *o.consecutive_errors > 0) {
    out.consecutive_gateway_errors = static_cast<uint32_t>(*o.consecutive_errors);
  }
  if (o.consecutive5xx_errors) {
    out.consecutive_5xx = static_cast<uint32_t>(std::max<int64_t>(*o.consecutive5xx_errors, 0));
  }
  if (o.consecutive_gateway_errors) {
    out.consecutive_gateway_errors =
        static_cast<uint32_t>(std::max<int64_t>(*o.consecutive_gateway_errors, 0));
  }
  if (o.consecutive_local_origin_failures && *o.consecutive_local_origin_failures > 0) {
    out.consecutive_local_origin_failures =
        static_cast<uint32_t>(*o.consecutive_local_origin_failures);
  }
  out.split_external_local_origin_errors = o.split_external_local_origin_errors.value_or(false);
  out.interval = duration(o.interval, out.interval);
  out.base_ejection_time = duration(o.base_ejection_time, out.base_ejection_time);
  if (o.max_ejection_percent) {
    out.max_ejection_percent =
        static_cast<uint32_t>(std::clamp<int64_t>(*o.max_ejection_percent, 0, 100));
  }
  if (o.min_health_percent) {
    out.min_health_percent =
        static_cast<uint32_t>(std::clamp<int64_t>(*o.min_health_percent, 0, 100));
  }
  for (int64_t code : o.outlier_detection_http_error_codes) {
    if (code >= 100 && code <= 599) out.error_codes.push_back(static_cast<uint16_t>(code));
  }
  return out;
}

std::optional<HashPolicy> compileHash(const model::ConsistentHashLB& h) {
  HashPolicy out;
  if (h.http_header_name && !h.http_header_name->empty()) {
    out.key = HashPolicy::Key::kHeader;
    out.name = toLower(*h.http_header_name);
  } else if (h.http_cookie && h.http_cookie->name && !h.http_cookie->name->empty()) {
    out.key = HashPolicy::Key::kCookie;
    out.name = *h.http_cookie->name;
    out.cookie_path = h.http_cookie->path.value_or("");
    // Without a ttl no cookie is issued; a zero ttl issues a session cookie (Envoy).
    out.cookie_ttl = h.http_cookie->ttl ? duration(h.http_cookie->ttl, Millis{0}) : Millis{-1};
    for (const auto& a : h.http_cookie->attributes) {
      if (a.name && !a.name->empty())
        out.cookie_attributes.emplace_back(*a.name, a.value.value_or(""));
    }
    std::sort(out.cookie_attributes.begin(), out.cookie_attributes.end());
  } else if (h.use_source_ip.value_or(false)) {
    out.key = HashPolicy::Key::kSourceIp;
  } else if (h.http_query_parameter_name && !h.http_query_parameter_name->empty()) {
    out.key = HashPolicy::Key::kQueryParameter;
    out.name = *h.http_query_parameter_name;
  } else {
    return std::nullopt;  // validation requires a key; without one there is nothing to hash
  }
  if (h.maglev) {
    out.maglev = true;
    out.table_size = h.maglev->table_size && *h.maglev->table_size > 0
                         ? static_cast<uint64_t>(*h.maglev->table_size)
                         : 0;
  } else if (h.ring_hash && h.ring_hash->minimum_ring_size && *h.ring_hash->minimum_ring_size > 0) {
    out.table_size = static_cast<uint64_t>(*h.ring_hash->minimum_ring_size);
  } else if (h.minimum_ring_size && *h.minimum_ring_size > 0) {
    out.table_size = static_cast<uint64_t>(*h.minimum_ring_size);
  }
  return out;
}

LocalityLbPolicy compileLocality(const model::LocalityLoadBalancerSetting* l) {
  LocalityLbPolicy out;
  if (!l) return out;
  for (const auto& d : l->distribute) {
    LocalityLbPolicy::Distribute od;
    od.from = d.from.value_or("");
    for (const auto& [to, w] : d.to)
      od.to.emplace_back(to, static_cast<uint32_t>(std::max<int64_t>(w, 0)));
    std::sort(od.to.begin(), od.to.end());
    out.distribute.push_back(std::move(od));
  }
  for (const auto& f : l->failover)
    out.failover.emplace_back(f.from.value_or(""), f.to.value_or(""));
  out.failover_priority = l->failover_priority;
  return out;
}

}  // namespace

void compileTrafficPolicy(const model::TrafficPolicy& policy, Cluster& c) {
  if (policy.connection_pool) compilePool(*policy.connection_pool, c.pool);
  if (policy.outlier_detection) c.outlier = compileOutlier(*policy.outlier_detection);
  const model::LoadBalancerSettings* lb = policy.load_balancer ? &*policy.load_balancer : nullptr;
  if (lb && lb->consistent_hash) c.hash = compileHash(*lb->consistent_hash);
  // Locality-aware balancing is on mesh-wide by default, but Istio only turns it on for a
  // destination that has outlier detection (without it, nothing would fail traffic over).
  const model::LocalityLoadBalancerSetting* locality =
      lb && lb->locality_lb_setting ? &*lb->locality_lb_setting : nullptr;
  if (c.outlier && !(locality && locality->enabled && !*locality->enabled)) {
    c.locality_lb = compileLocality(locality);
  }
  if (lb && (lb->warmup || lb->warmup_duration_secs)) {
    WarmupPolicy w;
    if (lb->warmup) {
      w.duration = duration(lb->warmup->duration, Millis{0});
      if (lb->warmup->minimum_percent) w.min_percent = *lb->warmup->minimum_percent;
      if (lb->warmup->aggression && *lb->warmup->aggression > 0)
        w.aggression = *lb->warmup->aggression;
    } else {
      w.duration = duration(lb->warmup_duration_secs, Millis{0});
    }
    if (w.duration.count() > 0) c.warmup = w;
  }
}

std::string localityFromLabels(const std::map<std::string, std::string>& labels) {
  auto get = [&](const char* key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  };
  const std::string region = get("topology.kubernetes.io/region");
  if (region.empty()) return {};
  std::string out = region;
  const std::string zone = get("topology.kubernetes.io/zone");
  const std::string subzone = get("topology.istio.io/subzone");
  if (!zone.empty() || !subzone.empty()) out += "/" + zone;
  if (!subzone.empty()) out += "/" + subzone;
  return out;
}

}  // namespace halyard::translate
