// DestinationRule: host, subsets, traffic policies (connection pool, outlier detection, load
// balancer with locality settings, client TLS, port-level settings, tunnel), exportTo.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

namespace {

void checkPercent(ObjectReport& r, const std::string& path, const std::optional<int64_t>& v) {
  if (v && (static_cast<int32_t>(*v) < 0 || static_cast<int32_t>(*v) > 100)) {
    r.error(path, "percentage out of range", std::to_string(*v), "0..100");
  }
}

void checkOutlierDetection(ObjectReport& r, const std::string& path,
                           const model::OutlierDetection& od) {
  if (od.base_ejection_time) {
    r.fail(path + ".baseEjectionTime", checkDurationPrecision(*od.base_ejection_time),
           *od.base_ejection_time);
  }
  if (!od.split_external_local_origin_errors.value_or(false) &&
      od.consecutive_local_origin_failures.value_or(0) > 0) {
    r.error(path + ".consecutiveLocalOriginFailures",
            "local origin failures counted without splitExternalLocalOriginErrors",
            std::to_string(*od.consecutive_local_origin_failures),
            "splitExternalLocalOriginErrors: true");
  }
  if (od.interval) r.fail(path + ".interval", checkDurationPrecision(*od.interval), *od.interval);
  checkPercent(r, path + ".maxEjectionPercent", od.max_ejection_percent);
  checkPercent(r, path + ".minHealthPercent", od.min_health_percent);
}

// Envoy's primality test for Maglev table sizes.
bool isPrime(uint64_t x) {
  if (x != 0 && x < 4) return true;
  if ((x & 1) == 0) return false;
  auto limit = static_cast<uint64_t>(std::sqrt(static_cast<double>(x)));
  for (uint64_t f = 3; f <= limit; f += 2) {
    if (x % f == 0) return false;
  }
  return true;
}

// Localities "region[/zone[/subzone]]", a trailing "*" allowed; none may overlap another.
Check checkLocalities(const std::vector<std::string>& localities) {
  // region -> zone -> subzones; "*" marks "everything below".
  std::map<std::string, std::map<std::string, std::set<std::string>>> seen;
  const Problem overlap{"locality overlaps an earlier one", "non-overlapping localities"};
  for (const auto& loc : localities) {
    size_t stars = std::count(loc.begin(), loc.end(), '*');
    if (stars > 1 || (stars == 1 && !loc.ends_with("*"))) {
      return Problem{"locality " + inQuotes(loc) + " has a misplaced wildcard",
                     "at most one '*', at the end"};
    }
    if (seen.contains("*")) return overlap;
    std::vector<std::string> parts;
    size_t start = 0;
    for (int i = 0; i < 2; ++i) {
      size_t slash = loc.find('/', start);
      if (slash == std::string::npos) break;
      parts.push_back(loc.substr(start, slash - start));
      start = slash + 1;
    }
    parts.push_back(loc.substr(start));
    for (const auto& p : parts) {
      if (p.empty()) {
        return Problem{"locality " + inQuotes(loc) + " has an empty part",
                       "region/zone/subzone without empty parts"};
      }
    }
    auto region = seen.find(parts[0]);
    if (parts.size() == 1) {
      if (region != seen.end()) return overlap;
      seen[parts[0]]["*"].insert("*");
      continue;
    }
    if (region != seen.end() && region->second.contains("*")) return overlap;
    auto& zones = seen[parts[0]];
    if (parts.size() == 2) {
      if (zones.contains(parts[1])) return overlap;
      zones[parts[1]].insert("*");
      continue;
    }
    auto& subzones = zones[parts[1]];
    if (subzones.contains("*") || subzones.contains(parts[2])) return overlap;
    subzones.insert(parts[2]);
  }
  return std::nullopt;
}

void checkLocalityLb(ObjectReport& r, const std::string& path,
                     const model::LocalityLoadBalancerSetting& lb) {
  if (!lb.distribute.empty() && !lb.failover.empty()) {
    r.error(path, "both distribute and failover", "distribute and failover",
            "only one of distribute or failover");
    return;
  }
  if (!lb.failover.empty()) {
    for (const auto& label : lb.failover_priority) {
      if (label == "topology.kubernetes.io/region" || label == "topology.kubernetes.io/zone" ||
          label == "topology.istio.io/subzone") {
        r.error(path + ".failoverPriority", "failover together with a topology label priority",
                inQuotes(label), "failover, or failoverPriority without topology labels");
        return;
      }
    }
  }
  std::vector<std::string> sources;
  for (size_t i = 0; i < lb.distribute.size(); ++i) {
    const auto& d = lb.distribute[i];
    std::string p = indexPath(path + ".distribute", i);
    sources.push_back(d.from.value_or(""));
    int64_t total = 0;
    std::vector<std::string> targets;
    for (const auto& [loc, weight] : d.to) {
      targets.push_back(loc);
      if (weight <= 0 || weight > 100) {
        r.error(keyPath(p + ".to", loc), "locality weight out of range", std::to_string(weight),
                "1..100");
        return;
      }
      total += weight;
    }
    if (total != 100) {
      r.error(p + ".to", "locality weights do not add up to 100", std::to_string(total), "100");
      return;
    }
    if (r.fail(p + ".to", checkLocalities(targets), "localities")) return;
  }
  if (r.fail(path + ".distribute", checkLocalities(sources), "localities")) return;
  for (size_t i = 0; i < lb.failover.size(); ++i) {
    const auto& f = lb.failover[i];
    std::string p = indexPath(path + ".failover", i);
    std::string from = f.from.value_or(""), to = f.to.value_or("");
    if (from == to) {
      r.error(p, "failover to the same region", inQuotes(from), "different from and to regions");
    }
    if (from.find('/') != std::string::npos || to.find('/') != std::string::npos) {
      r.error(p, "failover names more than a region", inQuotes(from) + " -> " + inQuotes(to),
              "regions only");
    }
    if (from.find('*') != std::string::npos || to.find('*') != std::string::npos) {
      r.error(p, "wildcard in a failover region", inQuotes(from) + " -> " + inQuotes(to),
              "regions without '*'");
    }
  }
}

void checkLoadBalancer(ObjectReport& r, const std::string& path,
                       const model::LoadBalancerSettings& lb) {
  if (lb.consistent_hash) {
    const auto& ch = *lb.consistent_hash;
    const std::string p = path + ".consistentHash";
    if (ch.http_cookie && ch.http_cookie->name && ch.http_cookie->name->empty()) {
      r.error(p + ".httpCookie.name", "empty cookie name", "\"\"", "a cookie name");
    }
    if (ch.minimum_ring_size.value_or(0) != 0 && (ch.maglev || ch.ring_hash)) {
      r.error(p + ".minimumRingSize", "minimumRingSize together with ringHash or maglev",
              std::to_string(*ch.minimum_ring_size), "only one of them");
    }
    if (ch.maglev) {
      int64_t size = ch.maglev->table_size.value_or(0);
      std::string sp = p + ".maglev.tableSize";
      if (size == 0) r.error(sp, "Maglev table size not set", "0", "a prime below 5000011");
      if (size >= 5000011) {
        r.error(sp, "Maglev table size too large", std::to_string(size), "a prime below 5000011");
      }
      if (!isPrime(static_cast<uint64_t>(size))) {
        r.error(sp, "Maglev table size is not prime", std::to_string(size),
                "a prime number, e.g. 65537");
      }
    }
  }
  if (lb.locality_lb_setting) {
    checkLocalityLb(r, path + ".localityLbSetting", *lb.locality_lb_setting);
  }
  if (lb.warmup) {
    if (lb.warmup->duration) {
      r.fail(path + ".warmup.duration", checkDurationPrecision(*lb.warmup->duration),
             *lb.warmup->duration);
    }
    if (lb.warmup->aggression && *lb.warmup->aggression < 1) {
      r.error(path + ".warmup.aggression", "warmup aggression below 1",
              formatNumber(*lb.warmup->aggression), ">= 1");
    }
  }
}

void checkClientTls(ObjectReport& r, const std::string& path, const model::ClientTLSSettings& tls) {
  const std::string mode = tls.mode.value_or("DISABLE");
  if (tls.insecure_skip_verify.value_or(false)) {
    if (mode == "SIMPLE" && (isSet(tls.ca_certificates) || isSet(tls.credential_name) ||
                             !tls.subject_alt_names.empty())) {
      r.error(path + ".insecureSkipVerify", "server verification settings with insecureSkipVerify",
              "caCertificates, credentialName or subjectAltNames", "none of them");
    }
    if (mode == "MUTUAL" && (isSet(tls.ca_certificates) || !tls.subject_alt_names.empty())) {
      r.error(path + ".insecureSkipVerify", "server verification settings with insecureSkipVerify",
              "caCertificates or subjectAltNames", "none of them");
    }
  }
  if ((mode == "SIMPLE" || mode == "MUTUAL") && isSet(tls.credential_name)) {
    if (isSet(tls.client_certificate) || isSet(tls.ca_certificates) || isSet(tls.private_key) ||
        isSet(tls.ca_crl)) {
      r.error(path + ".credentialName", "certificate files together with credentialName",
              inQuotes(*tls.credential_name), "only the credential");
    }
    return;
  }
  if (mode == "MUTUAL") {
    if (!isSet(tls.client_certificate)) {
      r.error(path + ".clientCertificate", "MUTUAL TLS without a client certificate", "none",
              "clientCertificate or credentialName");
    }
    if (!isSet(tls.private_key)) {
      r.error(path + ".privateKey", "MUTUAL TLS without a private key", "none",
              "privateKey or credentialName");
    }
  }
}

void checkTunnel(ObjectReport& r, const std::string& path, const model::TunnelSettings& t) {
  if (isSet(t.protocol) && *t.protocol != "CONNECT" && *t.protocol != "POST") {
    r.error(path + ".protocol", "unknown tunnel protocol", inQuotes(*t.protocol),
            "CONNECT or POST");
  }
  if (t.target_host && checkFqdn(*t.target_host) && !isIpAddress(*t.target_host)) {
    r.error(path + ".targetHost", "invalid tunnel target host", inQuotes(*t.target_host),
            "an FQDN or an IP address");
  }
  if (t.target_port) {
    r.fail(path + ".targetPort", checkPort(*t.target_port), std::to_string(*t.target_port));
  }
}

void checkTrafficPolicy(ObjectReport& r, const std::string& path, const model::TrafficPolicy& tp) {
  if (!tp.outlier_detection && !tp.connection_pool && !tp.load_balancer && !tp.tls &&
      tp.port_level_settings.empty() && !tp.tunnel && !tp.proxy_protocol && !tp.retry_budget) {
    r.error(path, "empty traffic policy", "{}", "at least one setting");
    return;
  }
  if (tp.tunnel && tp.proxy_protocol) {
    r.error(path, "tunnel together with proxyProtocol", "tunnel and proxyProtocol",
            "only one of them");
    return;
  }
  if (tp.outlier_detection)
    checkOutlierDetection(r, path + ".outlierDetection", *tp.outlier_detection);
  if (tp.connection_pool) checkConnectionPool(r, path + ".connectionPool", *tp.connection_pool);
  if (tp.load_balancer) checkLoadBalancer(r, path + ".loadBalancer", *tp.load_balancer);
  if (tp.tls) checkClientTls(r, path + ".tls", *tp.tls);
  for (size_t i = 0; i < tp.port_level_settings.size(); ++i) {
    const auto& pl = tp.port_level_settings[i];
    std::string p = indexPath(path + ".portLevelSettings", i);
    if (!pl.port) r.error(p + ".port", "port-level policy without a port", "none", "port.number");
    if (!pl.outlier_detection && !pl.connection_pool && !pl.load_balancer && !pl.tls) {
      r.error(p, "empty port-level policy", "only a port",
              "connectionPool, loadBalancer, outlierDetection or tls");
      continue;
    }
    if (pl.outlier_detection)
      checkOutlierDetection(r, p + ".outlierDetection", *pl.outlier_detection);
    if (pl.connection_pool) checkConnectionPool(r, p + ".connectionPool", *pl.connection_pool);
    if (pl.load_balancer) checkLoadBalancer(r, p + ".loadBalancer", *pl.load_balancer);
    if (pl.tls) checkClientTls(r, p + ".tls", *pl.tls);
  }
  if (tp.tunnel) checkTunnel(r, path + ".tunnel", *tp.tunnel);
}

}  // namespace

void checkConnectionPool(ObjectReport& r, const std::string& path,
                         const model::ConnectionPoolSettings& pool) {
  if (!pool.http && !pool.tcp) {
    r.error(path, "empty connection pool", "{}", "http and/or tcp settings");
    return;
  }
  auto non_negative = [&](const std::string& p, const std::optional<int64_t>& v) {
    if (v && static_cast<int32_t>(*v) < 0) {
      r.error(p, "negative limit", std::to_string(static_cast<int32_t>(*v)), ">= 0");
    }
  };
  if (pool.http) {
    const auto& h = *pool.http;
    const std::string p = path + ".http";
    non_negative(p + ".http1MaxPendingRequests", h.http1_max_pending_requests);
    non_negative(p + ".http2MaxRequests", h.http2_max_requests);
    non_negative(p + ".maxRequestsPerConnection", h.max_requests_per_connection);
    non_negative(p + ".maxRetries", h.max_retries);
    non_negative(p + ".maxConcurrentStreams", h.max_concurrent_streams);
    if (h.idle_timeout) {
      r.fail(p + ".idleTimeout", checkDurationPrecision(*h.idle_timeout), *h.idle_timeout);
    }
    if (h.h2_upgrade_policy == "UPGRADE" && h.use_client_protocol.value_or(false)) {
      r.error(p + ".useClientProtocol", "useClientProtocol with h2UpgradePolicy UPGRADE", "true",
              "false, or another h2UpgradePolicy");
    }
  }
  if (pool.tcp) {
    const auto& t = *pool.tcp;
    const std::string p = path + ".tcp";
    non_negative(p + ".maxConnections", t.max_connections);
    const std::pair<const char*, const std::optional<std::string>*> durations[] = {
        {".connectTimeout", &t.connect_timeout},
        {".maxConnectionDuration", &t.max_connection_duration},
    };
    for (const auto& [name, d] : durations) {
      if (*d) r.fail(p + name, checkDurationPrecision(**d), **d);
    }
    // The CRD has no rule for tcp.idleTimeout; under 1ms (0s) disables it.
    if (t.idle_timeout) {
      auto nanos = durationNanos(*t.idle_timeout);
      if (!nanos || *nanos / 1'000'000 != 0) {
        r.fail(p + ".idleTimeout", checkDuration(*t.idle_timeout), *t.idle_timeout);
      }
    }
    if (t.tcp_keepalive) {
      if (t.tcp_keepalive->time) {
        r.fail(p + ".tcpKeepalive.time", checkDurationPrecision(*t.tcp_keepalive->time),
               *t.tcp_keepalive->time);
      }
      if (t.tcp_keepalive->interval) {
        r.fail(p + ".tcpKeepalive.interval", checkDurationPrecision(*t.tcp_keepalive->interval),
               *t.tcp_keepalive->interval);
      }
    }
  }
}

void validateDestinationRule(ObjectReport& r) {
  const model::DestinationRuleSpec dr = decodeDestinationRule(r.object()).spec;
  if (dr.host) r.fail("spec.host", checkWildcardDomain(*dr.host), inQuotes(*dr.host));
  if (dr.traffic_policy) checkTrafficPolicy(r, "spec.trafficPolicy", *dr.traffic_policy);
  std::set<std::string> names;
  for (size_t i = 0; i < dr.subsets.size(); ++i) {
    const model::Subset& s = dr.subsets[i];
    std::string p = indexPath("spec.subsets", i);
    if (s.name && !names.insert(*s.name).second) {
      r.error(p + ".name", "duplicate subset name", inQuotes(*s.name), "unique subset names");
    }
    if (s.name && !isDns1123Label(*s.name)) {
      r.error(p + ".name", "invalid subset name", inQuotes(*s.name), "a DNS-1123 label");
    }
    checkLabelMap(r, p + ".labels", s.labels);
    if (s.traffic_policy) checkTrafficPolicy(r, p + ".trafficPolicy", *s.traffic_policy);
  }
  checkExportTo(r, "spec.exportTo", dr.export_to, dr.workload_selector.has_value());
}

}  // namespace halyard::config
