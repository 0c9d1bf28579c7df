#include "translate/cluster_builder.h"

#include <cctype>
#include <set>

#include "config/model/host_name.h"
#include "translate/model_util.h"
#include "translate/traffic_policy_compiler.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

LbPolicy lbPolicy(const std::string& simple) {
  if (simple == "ROUND_ROBIN") return LbPolicy::kRoundRobin;
  if (simple == "RANDOM") return LbPolicy::kRandom;
  if (simple == "PASSTHROUGH") return LbPolicy::kPassthrough;
  return LbPolicy::kLeastRequest;  // unset, UNSPECIFIED, LEAST_REQUEST, LEAST_CONN (alias)
}

// Whether a service port speaks HTTP/2 to its endpoints (Istio's protocol selection): a
// Kubernetes port by its appProtocol, else by its name up to the first "-"; a ServiceEntry port
// by its protocol. gRPC, HTTP2 and h2c do.
bool speaksHttp2(const RegistryService& service, const RegistryPort& port) {
  auto h2 = [](std::string p) {
    for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return p == "grpc" || p == "http2" || p == "h2c" || p == "kubernetes.io/h2c";
  };
  if (service.kube) {
    for (const auto& p : service.kube->ports) {
      if (p.port != port.number) continue;
      if (!p.app_protocol.empty()) return h2(p.app_protocol);
      return h2(p.name.substr(0, p.name.find('-')));
    }
    return false;
  }
  return h2(port.protocol);
}

// The trafficPolicy fields of `policy` that this proxy does not enforce, as field paths.
std::vector<std::string> notEnforced(const model::TrafficPolicy& policy) {
  std::vector<std::string> out;
  auto add = [&](bool set, const char* field) {
    if (set) out.push_back(std::string("trafficPolicy.") + field);
  };
  if (const auto& cp = policy.connection_pool) {
    if (const auto& http = cp->http) {
      // Limits, retries and timeouts are enforced (Cluster::pool); h2UpgradePolicy and
      // useClientProtocol are Cluster::http2 / use_client_protocol.
      add(http->http2_keep_alive.has_value(), "connectionPool.http.http2KeepAlive");
    }
  }
  if (const auto& lb = policy.load_balancer) {
    add(lb->zone_aware_lb_setting.has_value(), "loadBalancer.zoneAwareLbSetting");
    add(lb->backend_utilization.has_value(), "loadBalancer.backendUtilization");
  }
  // DISABLE is plaintext; SIMPLE, MUTUAL and ISTIO_MUTUAL are Cluster::tls. Validation refuses
  // other modes; one that got here anyway is not served.
  if (policy.tls) {
    const std::string mode = policy.tls->mode.value_or("DISABLE");
    add(mode != "DISABLE" && mode != "SIMPLE" && mode != "MUTUAL" && mode != "ISTIO_MUTUAL", "tls");
  }
  add(policy.tunnel.has_value(), "tunnel");
  add(policy.proxy_protocol.has_value(), "proxyProtocol");
  add(policy.retry_budget.has_value(), "retryBudget");
  return out;
}

bool isSet(const std::optional<std::string>& s) {
  return s && !s->empty();
}

PemSource pemFile(const std::string& path) {
  PemSource p;
  p.path = path;
  p.origin = path;
  return p;
}

// The rule that wrote the effective tls block at `path`: the one defining the subset, or the
// one whose top-level policy the merge kept.
const model::DestinationRule& tlsOwner(const MergedDestinationRule& rule,
                                       const model::Subset* subset, const std::string& path) {
  for (const auto* dr : rule.rules) {
    bool owns = dr->spec.traffic_policy && &*dr->spec.traffic_policy == rule.traffic_policy;
    if (path.starts_with("spec.subsets[")) {
      owns = false;
      for (const auto& s : dr->spec.subsets) owns |= &s == subset;
    }
    if (owns) return *dr;
  }
  return *rule.rules.front();
}

// Istio's SNI for mutual TLS inside the mesh (model.BuildDNSSrvSubsetKey with the outbound
// direction): "outbound_.<port>_.<subset>_.<host>", the subset empty for a whole service.
std::string istioSni(uint16_t port, const std::string& subset, const std::string& host) {
  return "outbound_." + std::to_string(port) + "_." + subset + "_." + host;
}

}  // namespace

ClusterBuilder::ClusterBuilder(const ServiceRegistry& registry, const DestinationRuleIndex& rules,
                               std::string proxy_namespace, const CredentialStore& credentials,
                               bool gateway, const MeshSettings& mesh, DiagnosticSink& sink)
    : registry_(registry),
      rules_(rules),
      proxy_namespace_(std::move(proxy_namespace)),
      credentials_(credentials),
      gateway_(gateway),
      trust_domain_(mesh.trust_domain),
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
  // Every endpoint of the port: the subset's are the cluster's, all of them name the service
  // accounts Istio mutual TLS accepts (Istio's are per service, whatever the subset).
  const std::vector<Endpoint> all_endpoints = registry_.endpoints(service, port, sink_);
  for (const auto& e : all_endpoints) {
    if (subset_def && !model::selectorMatches(subset_def->labels, e.labels)) continue;
    c.endpoints.push_back(e);
    if (c.endpoints.back().locality.empty()) {
      c.endpoints.back().locality = localityFromLabels(e.labels);
    }
    nameEndpoint(c.endpoints.back());
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
  compileTrafficPolicy(policy, c);
  c.not_enforced = notEnforced(policy);
  c.http2 = speaksHttp2(service, port);
  if (policy.connection_pool && policy.connection_pool->http) {
    const auto& http = *policy.connection_pool->http;
    if (http.h2_upgrade_policy == "UPGRADE") c.http2 = true;
    if (http.use_client_protocol.value_or(false)) c.use_client_protocol = true;
  }
  if (rule && policy.tls) {
    const model::ClientTLSSettings& tls = *policy.tls;
    const std::string path = "spec." + effectiveTlsPath(rule->traffic_policy, subset_def, c.port);
    const model::DestinationRule& owner = tlsOwner(*rule, subset_def, path);
    const std::string origin =
        namespaceOf(owner.meta) + "/" + owner.meta.name + " " + path.substr(5);
    const std::string mode = tls.mode.value_or("DISABLE");
    if (mode == "ISTIO_MUTUAL") {
      c.tls = istioMutual(c, service, all_endpoints, &tls);
      c.tls->origin = origin;
    } else if (mode == "SIMPLE" || mode == "MUTUAL") {
      applyTls(c, tls, owner, path);
    } else if (mode == "DISABLE") {
      c.tls_disabled_by = origin;  // plaintext even to endpoints that require mutual TLS
    }
  } else if (!service.mesh_external) {
    // Auto mTLS (Istio's default, enableAutoMtls): mutual TLS to the endpoints that run a
    // sidecar taking it, plaintext to the others; the proxy picks per endpoint (mesh_mtls).
    c.auto_mtls = true;
    c.tls = istioMutual(c, service, all_endpoints, nullptr);
    c.tls->origin = "auto mTLS (no DestinationRule tls for " + service.host + ":" +
                    std::to_string(c.port) + ")";
  }
  if (rule) {
    const model::DestinationRule& dr = *rule->rules.front();
    for (const auto& field : c.not_enforced) {
      sink_.report(kNotServed, dr.meta, dr.spec.line, "spec." + field,
                   field + " is parsed but not enforced by this proxy yet");
    }
  }
  clusters_.emplace(name, std::move(c));
}

UpstreamTls ClusterBuilder::istioMutual(const Cluster& c, const RegistryService& service,
                                        const std::vector<Endpoint>& all_endpoints,
                                        const model::ClientTLSSettings* tls) const {
  UpstreamTls out;
  out.mode = UpstreamTls::Mode::kIstioMutual;
  // Istio uses the tls block's sni and subjectAltNames when it sets them (useful through
  // gateways), its own otherwise.
  out.sni =
      tls && tls->sni && !tls->sni->empty() ? *tls->sni : istioSni(c.port, c.subset, service.host);
  if (tls && !tls->subject_alt_names.empty()) {
    out.subject_alt_names = tls->subject_alt_names;
    return out;
  }
  // The SPIFFE IDs of the service's endpoints' service accounts and the ServiceEntry's
  // subjectAltNames, sorted (Istio's PushContext.ServiceAccounts).
  std::set<std::string> names;
  for (const auto& e : all_endpoints) {
    if (e.service_account.empty()) continue;
    names.insert("spiffe://" + trust_domain_ + "/ns/" + e.namespace_ + "/sa/" + e.service_account);
  }
  for (auto& n : registry_.subjectAltNames(service)) names.insert(std::move(n));
  out.subject_alt_names.assign(names.begin(), names.end());
  return out;
}

void ClusterBuilder::applyTls(Cluster& c, const model::ClientTLSSettings& tls,
                              const model::DestinationRule& owner, const std::string& path) {
  const std::string mode = tls.mode.value_or("DISABLE");
  UpstreamTls out;
  out.mode = mode == "MUTUAL" ? UpstreamTls::Mode::kMutual : UpstreamTls::Mode::kSimple;
  out.origin = namespaceOf(owner.meta) + "/" + owner.meta.name + " " + path.substr(5);
  out.sni = tls.sni.value_or("");
  out.subject_alt_names = tls.subject_alt_names;
  out.insecure_skip_verify = tls.insecure_skip_verify.value_or(false);

  bool use_credential = isSet(tls.credential_name);
  if (use_credential && !gateway_ && !owner.spec.workload_selector) {
    sink_.report(kNotServed, owner.meta, tls.line, path + ".credentialName",
                 "credentialName applies at sidecars only when the DestinationRule has a "
                 "workloadSelector (as in Istio); ignored, the certificate paths are used");
    use_credential = false;
  }
  std::string why;
  if (use_credential) {
    const std::string& name = *tls.credential_name;
    if (out.mode == UpstreamTls::Mode::kMutual) {
      if (auto cert = credentials_.certificate(name, why)) out.client_certificate = *cert;
    }
    // Istio validates the server with the credential's CA unless told not to verify.
    if (why.empty() && !out.insecure_skip_verify) {
      if (auto ca = credentials_.caFor(name, out.crl, why)) out.ca = std::move(*ca);
    }
  } else {
    if (isSet(tls.ca_certificates)) out.ca = pemFile(*tls.ca_certificates);
    if (isSet(tls.ca_crl)) out.crl = pemFile(*tls.ca_crl);
    if (out.mode == UpstreamTls::Mode::kMutual) {
      if (isSet(tls.client_certificate) && isSet(tls.private_key)) {
        out.client_certificate.certificate_chain = pemFile(*tls.client_certificate);
        out.client_certificate.private_key = pemFile(*tls.private_key);
      } else {
        why = "MUTUAL TLS without clientCertificate and privateKey";
      }
    }
  }
  if (!why.empty()) {
    // Istio's cluster never gets its certificate and its connections fail; plaintext would not.
    c.endpoints.clear();
    sink_.report(kMissingCredential, owner.meta, tls.line,
                 path + (use_credential ? ".credentialName" : ""),
                 "client TLS for " + c.name + " cannot be set up: " + why +
                     "; the cluster gets no endpoints (503)");
    return;
  }
  c.tls = std::move(out);
}

void ClusterBuilder::add(Cluster cluster) {
  resolved_[cluster.name] = true;
  std::string name = cluster.name;
  clusters_.insert_or_assign(std::move(name), std::move(cluster));
}

std::string ClusterBuilder::resolveSniDnat(const RegistryService& service, uint16_t port,
                                           const std::string& subset) {
  const std::string sni = "outbound_." + std::to_string(port) + "_." + subset + "_." + service.host;
  if (resolved_.contains(sni)) return sni;
  model::Destination destination;
  destination.host = service.host;
  if (!subset.empty()) destination.subset = subset;
  destination.port.emplace();
  destination.port->number = port;
  const model::ObjectMeta& meta = service.kube ? service.kube->meta : service.entry->meta;
  const std::string name =
      resolve(destination, DestinationRef{&meta, "spec.ports"}, service.namespace_, port);
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return name;
  Cluster c = it->second;
  c.name = sni;
  c.tls.reset();
  c.auto_mtls = false;
  c.tls_disabled_by.clear();
  c.http2 = false;
  c.use_client_protocol = false;
  add(std::move(c));
  return sni;
}

bool ClusterBuilder::usesConsistentHash(const std::string& cluster_name) const {
  auto it = consistent_hash_.find(cluster_name);
  return it != consistent_hash_.end() && it->second;
}

}  // namespace halyard::translate
