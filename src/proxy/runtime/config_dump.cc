#include "proxy/runtime/config_dump.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;
using nlohmann::json;

namespace {

const char* lbName(tr::LbPolicy lb) {
  switch (lb) {
    case tr::LbPolicy::kLeastRequest:
      return "LEAST_REQUEST";
    case tr::LbPolicy::kRoundRobin:
      return "ROUND_ROBIN";
    case tr::LbPolicy::kRandom:
      return "RANDOM";
    case tr::LbPolicy::kPassthrough:
      return "PASSTHROUGH";
  }
  return "LEAST_REQUEST";
}

json routeJson(const tr::Route& r) {
  json j{{"name", r.name}, {"origin", r.origin}};
  if (const auto* f = std::get_if<tr::ForwardAction>(&r.action)) {
    json clusters = json::array();
    for (const auto& c : f->clusters)
      clusters.push_back({{"cluster", c.cluster}, {"weight", c.weight}});
    j["route"] = {{"clusters", clusters}, {"retries", f->retry.attempts}};
    if (f->timeout) j["route"]["timeout_ms"] = f->timeout->count();
  } else if (const auto* d = std::get_if<tr::DirectResponseAction>(&r.action)) {
    j["direct_response"] = {{"status", d->status}, {"body", d->body}};
  } else if (const auto* rd = std::get_if<tr::RedirectAction>(&r.action)) {
    j["redirect"] = {{"code", rd->code}};
  }
  if (r.fault) j["fault"] = true;
  if (r.cors) j["cors"] = true;
  return j;
}

// Where a certificate comes from, never its bytes: the dump is served on the admin port.
std::string pemOrigin(const tr::PemSource& p) {
  return p.origin.empty() ? p.path : p.origin;
}

json serverTlsJson(const tr::ServerTls& t) {
  static constexpr const char* kModes[] = {"SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL", "ISTIO_MUTUAL"};
  json certificates = json::array();
  for (const auto& c : t.certificates) certificates.push_back(pemOrigin(c.certificate_chain));
  json j{{"mode", kModes[static_cast<int>(t.mode)]},
         {"sni_hosts", t.sni_hosts},
         {"certificates", certificates},
         {"origin", t.origin}};
  if (!t.client_ca.empty()) j["client_ca"] = pemOrigin(t.client_ca);
  return j;
}

json upstreamTlsJson(const tr::UpstreamTls& t) {
  static const char* const kModes[] = {"SIMPLE", "MUTUAL", "ISTIO_MUTUAL"};
  json j{{"mode", kModes[static_cast<int>(t.mode)]}, {"sni", t.sni}, {"origin", t.origin}};
  if (!t.ca.empty()) j["ca"] = pemOrigin(t.ca);
  if (!t.subject_alt_names.empty()) j["subject_alt_names"] = t.subject_alt_names;
  return j;
}

}  // namespace

std::string configDumpJson(const tr::Snapshot& s) {
  json listeners = json::array();
  for (const auto& l : s.listeners) {
    json hosts = json::array();
    if (l.routes) {
      for (const auto& vh : l.routes->virtual_hosts) {
        json routes = json::array();
        for (const auto& r : vh.routes) routes.push_back(routeJson(r));
        hosts.push_back({{"name", vh.name},
                         {"domains", vh.domains},
                         {"require_tls", vh.require_tls},
                         {"routes", routes}});
      }
    }
    json tls = json::array();
    for (const auto& t : l.tls) tls.push_back(serverTlsJson(t));
    listeners.push_back({{"name", l.name},
                         {"address", l.bind_address},
                         {"port", l.port},
                         {"protocol", l.protocol},
                         {"tls", tls},
                         {"virtual_hosts", hosts}});
    if (l.isTcp() || !l.tcp_routes.empty()) {
      json tcp = json::array();
      for (const auto& r : l.tcp_routes) {
        json matches = json::array();
        for (const auto& m : r.matches) {
          matches.push_back(
              {{"destination_subnets", m.destination_subnets}, {"sni_hosts", m.sni_hosts}});
        }
        json clusters = json::array();
        for (const auto& c : r.clusters) {
          clusters.push_back({{"cluster", c.cluster}, {"weight", c.weight}});
        }
        tcp.push_back({{"origin", r.origin}, {"matches", matches}, {"clusters", clusters}});
        if (!r.hosts.empty()) tcp.back()["hosts"] = r.hosts;
      }
      listeners.back()["tcp_routes"] = tcp;
    }
    if (l.kind == tr::ListenerKind::kInbound) {
      static const char* const kPeerModes[] = {"PERMISSIVE", "STRICT", "DISABLE"};
      listeners.back()["mtls"] = {{"mode", kPeerModes[static_cast<int>(l.mtls.mode)]},
                                  {"origin", l.mtls.origin}};
    }
    if (!l.jwt_rules.empty()) {
      // RequestAuthentication: which issuers, from where; the key sets themselves are public
      // but long, so only their source is shown.
      json rules = json::array();
      for (const auto& r : l.jwt_rules) {
        rules.push_back({{"origin", r.origin},
                         {"issuer", r.issuer},
                         {"audiences", r.audiences},
                         {"jwks", r.jwks_uri.empty() ? std::string("inline") : r.jwks_uri}});
      }
      listeners.back()["jwt_rules"] = rules;
    }
    if (l.kind == tr::ListenerKind::kOutboundProxy) {
      listeners.back()["outbound_traffic_policy"] = l.registry_only ? "REGISTRY_ONLY" : "ALLOW_ANY";
    }
  }
  std::vector<const tr::Cluster*> sorted;
  for (const auto& [name, c] : s.clusters) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  json clusters = json::array();
  for (const tr::Cluster* c : sorted) {
    json endpoints = json::array();
    for (const auto& e : c->endpoints) {
      endpoints.push_back({{"address", e.address}, {"port", e.port}, {"weight", e.weight}});
      if (!e.locality.empty()) endpoints.back()["locality"] = e.locality;
      if (!e.service_account.empty()) endpoints.back()["service_account"] = e.service_account;
      if (e.mesh_mtls) endpoints.back()["mesh_mtls"] = true;
      if (e.requires_mtls) endpoints.back()["requires_mtls"] = true;
    }
    clusters.push_back({{"name", c->name},
                        {"service", c->service_host},
                        {"lb_policy", lbName(c->lb)},
                        {"connect_timeout_ms", c->connect_timeout.count()},
                        {"resolve_dns", c->resolve_dns},
                        {"endpoints", endpoints},
                        {"not_enforced", c->not_enforced}});
    if (c->tls) clusters.back()["tls"] = upstreamTlsJson(*c->tls);
    if (c->auto_mtls) clusters.back()["auto_mtls"] = true;
    const tr::ConnectionPoolPolicy& pool = c->pool;
    clusters.back()["circuit_breakers"] = {{"max_connections", pool.max_connections},
                                           {"max_pending_requests", pool.max_pending_requests},
                                           {"max_requests", pool.max_requests},
                                           {"max_retries", pool.max_retries}};
    if (pool.max_requests_per_connection) {
      clusters.back()["max_requests_per_connection"] = pool.max_requests_per_connection;
    }
    if (pool.idle_timeout.count()) clusters.back()["idle_timeout_ms"] = pool.idle_timeout.count();
    if (pool.max_connection_duration.count()) {
      clusters.back()["max_connection_duration_ms"] = pool.max_connection_duration.count();
    }
    if (pool.tcp_keepalive) {
      clusters.back()["tcp_keepalive"] = {{"time_ms", pool.keepalive_time.count()},
                                          {"interval_ms", pool.keepalive_interval.count()},
                                          {"probes", pool.keepalive_probes}};
    }
    if (const auto& o = c->outlier) {
      clusters.back()["outlier_detection"] = {
          {"consecutive_5xx", o->consecutive_5xx},
          {"consecutive_gateway_errors", o->consecutive_gateway_errors},
          {"consecutive_local_origin_failures", o->consecutive_local_origin_failures},
          {"split_external_local_origin_errors", o->split_external_local_origin_errors},
          {"interval_ms", o->interval.count()},
          {"base_ejection_time_ms", o->base_ejection_time.count()},
          {"max_ejection_percent", o->max_ejection_percent},
          {"min_health_percent", o->min_health_percent}};
    }
    if (const auto& h = c->hash) {
      static const char* const kKeys[] = {"header", "cookie", "source_ip", "query_parameter"};
      clusters.back()["consistent_hash"] = {{"key", kKeys[static_cast<int>(h->key)]},
                                            {"name", h->name},
                                            {"table", h->maglev ? "maglev" : "ring_hash"},
                                            {"size", h->table_size}};
    }
    if (c->locality_lb) clusters.back()["locality_lb"] = true;
    if (c->warmup) clusters.back()["warmup_ms"] = c->warmup->duration.count();
    if (!c->tls_disabled_by.empty()) clusters.back()["tls_disabled_by"] = c->tls_disabled_by;
    if (c->http2) clusters.back()["http2"] = true;
    if (c->use_client_protocol) clusters.back()["use_client_protocol"] = true;
  }
  json dump{{"version", s.version},
            {"listeners", listeners},
            {"clusters", clusters},
            {"warnings", s.warnings}};
  return dump.dump(2) + "\n";
}

std::string clustersText(const tr::Snapshot& s, upstream::SharedUpstream* shared) {
  std::vector<std::string> lines;
  const int64_t now = upstream::steadyNowNs();
  // Istio installs 2^32-1 for every threshold the DestinationRule leaves unset.
  auto threshold = [](uint32_t v) { return std::to_string(v == 0 ? 4294967295u : v); };
  for (const auto& [name, c] : s.clusters) {
    const std::string prefix = name + "::default_priority::";
    lines.push_back(prefix + "max_connections::" + threshold(c.pool.max_connections));
    lines.push_back(prefix + "max_pending_requests::" + threshold(c.pool.max_pending_requests));
    lines.push_back(prefix + "max_requests::" + threshold(c.pool.max_requests));
    lines.push_back(prefix + "max_retries::" + threshold(c.pool.max_retries));
    std::shared_ptr<upstream::ClusterState> state = shared ? shared->find(name) : nullptr;
    if (c.endpoints.empty()) lines.push_back(name + "::no endpoints");
    for (const auto& e : c.endpoints) {
      const std::string host = name + "::" + e.address + ":" + std::to_string(e.port) + "::";
      lines.push_back(host + "weight::" + std::to_string(e.weight));
      bool ejected = false;
      asio::error_code ec;
      const auto ip = asio::ip::make_address(e.address, ec);
      if (state && !ec) {
        ejected = state->health(asio::ip::tcp::endpoint(ip, e.port))->ejected(now);
      }
      lines.push_back(host + "health_flags::" + (ejected ? "/failed_outlier_check" : "healthy"));
      // region, zone, sub_zone as Envoy prints them.
      std::string_view rest = e.locality;
      const char* const kParts[] = {"region", "zone", "sub_zone"};
      for (const char* part : kParts) {
        const size_t slash = rest.find('/');
        lines.push_back(host + part + "::" + std::string(rest.substr(0, slash)));
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      }
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace halyard::proxy::runtime
