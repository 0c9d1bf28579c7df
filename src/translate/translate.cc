#include "translate/translate.h"

#include <algorithm>

#include "config/validate/analyze.h"
#include "config/yaml/config_set_builder.h"
#include "config/yaml/loader.h"
#include "translate/cluster_builder.h"
#include "translate/credentials.h"
#include "translate/destination_rule_index.h"
#include "translate/diagnostic_sink.h"
#include "translate/gateway_translator.h"
#include "translate/mesh_settings.h"
#include "translate/peer_workloads.h"
#include "translate/request_authentication.h"
#include "translate/service_registry.h"
#include "translate/sidecar_translator.h"
#include "translate/telemetry_config.h"
#include "translate/virtual_service_set.h"

namespace halyard::translate {

namespace {

bool hasErrors(const config::Diagnostics& diagnostics) {
  for (const auto& d : diagnostics) {
    if (d.level == config::Level::kError) return true;
  }
  return false;
}

enum class Part { kWhole, kSidecarOutbound };

// The listeners a request enters by (not the outbound port tables, which sidecars share) carry
// the proxy's tracing (issue 14: MeshConfig extensionProviders + Telemetry): inbound listeners
// the SERVER side's, the others the CLIENT side's.
void markTracing(std::vector<Listener>& listeners, const TracingSides& tracing,
                 std::shared_ptr<const ListenerTelemetry> telemetry) {
  for (Listener& l : listeners) {
    if (l.kind == ListenerKind::kOutboundPort) continue;
    l.tracing = l.kind == ListenerKind::kInbound ? tracing.server : tracing.client;
    l.telemetry = telemetry;
  }
}

// A collector named by a service of the registry (zipkin.istio-system.svc.cluster.local, a
// ServiceEntry host) is reached at that service's first endpoint, as Envoy reaches it through
// the service's cluster; an IP, or a name outside the registry, stays as written and the
// exporter resolves it by DNS. Providers come from the mesh config, so names are read from the
// root namespace.
std::shared_ptr<const TracingSettings> resolveCollectors(
    std::shared_ptr<const TracingSettings> tracing, const ServiceRegistry& registry,
    const std::string& root_namespace) {
  if (!tracing) return tracing;
  std::shared_ptr<TracingSettings> resolved;
  for (size_t i = 0; i < tracing->providers.size(); ++i) {
    const TracingProvider& p = tracing->providers[i];
    const RegistryService* service = registry.find(p.host, root_namespace, root_namespace);
    const RegistryPort* port = service ? service->port(p.port) : nullptr;
    if (!port) continue;
    DiagnosticSink problems;  // reported with the service's own clusters already
    const std::vector<Endpoint> endpoints = registry.endpoints(*service, *port, problems);
    if (endpoints.empty() || endpoints.front().address.empty()) continue;
    if (!resolved) resolved = std::make_shared<TracingSettings>(*tracing);
    resolved->providers[i].host = endpoints.front().address;
    resolved->providers[i].port = endpoints.front().port;
  }
  if (resolved) return resolved;
  return tracing;
}

// The sidecar's outbound proxy listener carries MeshConfig outboundTrafficPolicy.
void markRegistryOnly(std::vector<Listener>& listeners, bool registry_only) {
  for (Listener& l : listeners) {
    if (l.kind == ListenerKind::kOutboundProxy) l.registry_only = registry_only;
  }
}

TranslateResult translate(const config::model::ConfigSet& config, const ProxyIdentity& proxy,
                          uint64_t version, Part part) {
  DiagnosticSink sink;
  const bool sidecar = proxy.role == "sidecar";
  if (!sidecar && proxy.role != "gateway") {
    sink.report(kUntranslatable, config::model::ObjectMeta{}, 0, "",
                "proxy role \"" + proxy.role + "\" is unknown (\"gateway\" or \"sidecar\")");
    return TranslateResult{nullptr, sink.take()};
  }
  const MeshSettingsSource mesh = readMeshSettings(config);
  if (!mesh.error.empty()) {
    sink.report(kInvalidMeshConfig, mesh.config_map->meta, 0, "data.mesh", mesh.error);
  }
  ServiceRegistry registry(config, mesh.settings);
  DestinationRuleIndex rules(config, proxy.namespace_, proxy.labels, mesh.settings.root_namespace);
  // TLS credentials (Secrets) are read in the proxy's own namespace, as Istio's gateway does.
  const CredentialStore credentials(config, proxy.namespace_);
  ClusterBuilder clusters(registry, rules, proxy.namespace_, credentials, !sidecar, mesh.settings,
                          sink);
  const std::vector<PreparedVirtualService> virtual_services = prepareVirtualServices(config, sink);

  auto snapshot = std::make_shared<Snapshot>();
  snapshot->version = version;
  std::vector<std::string> notes;
  if (!sidecar) {
    snapshot->listeners =
        GatewayTranslator(config, virtual_services, proxy, credentials, clusters, sink).build();
    // A gateway enforces the AuthorizationPolicies that select its own workload; TCP servers
    // with Istio's TCP rules (authz_compiler.h).
    std::vector<std::string> tcp_notes;
    const std::vector<AuthzPolicy> authz =
        registry.authorization(proxy.namespace_, proxy.labels, notes);
    const std::vector<JwtRule> jwt_rules = jwtRulesFor(
        config, mesh.settings, AuthnScope{proxy.namespace_, proxy.labels}, jwksResolver(), notes);
    bool any_tcp = false;
    for (const auto& l : snapshot->listeners) any_tcp = any_tcp || l.isTcp();
    const std::vector<AuthzPolicy> tcp_authz =
        any_tcp ? registry.authorization(proxy.namespace_, proxy.labels, tcp_notes, true)
                : std::vector<AuthzPolicy>{};
    if (any_tcp) {
      // Said once: the TCP notes that differ from the HTTP ones.
      for (auto& n : tcp_notes) {
        if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(std::move(n));
      }
    }
    for (auto& l : snapshot->listeners) {
      l.authz = l.isTcp() ? tcp_authz : authz;
      if (!l.isTcp()) l.jwt_rules = jwt_rules;
      l.xff_trusted_hops = mesh.settings.num_trusted_proxies;
      l.use_remote_address = true;
      l.path_normalization = mesh.settings.path_normalization;
    }
    // The external authorizers of CUSTOM policies are reached through their service's cluster,
    // which no route may name.
    for (const auto& p : authz) {
      if (!p.ext_provider) continue;
      config::model::Destination d;
      const std::string& service = p.ext_provider->service;
      const size_t slash = service.find('/');
      d.host = slash == std::string::npos ? service : service.substr(slash + 1);
      d.port = config::model::PortSelector{p.ext_provider->port};
      // A provider only comes from the mesh config, so its ConfigMap is there to name.
      clusters.resolve(d,
                       DestinationRef{&mesh.config_map->meta,
                                      "data.mesh extensionProviders " + p.ext_provider->name},
                       slash == std::string::npos ? proxy.namespace_ : service.substr(0, slash),
                       p.ext_provider->port);
    }
  } else {
    SidecarTranslator translator(registry, virtual_services, proxy, clusters, sink);
    snapshot->listeners =
        part == Part::kWhole ? translator.build() : translator.outboundListeners();
    notes = translator.warnings();
  }
  snapshot->clusters = clusters.take();
  markRegistryOnly(snapshot->listeners, mesh.settings.registry_only);
  if (part == Part::kWhole) {
    const MeshTelemetry mesh_telemetry = readMeshTelemetry(config);
    TracingSides tracing = resolveTracingSides(config, mesh_telemetry, mesh.settings.root_namespace,
                                               proxy.namespace_, proxy.labels, &notes);
    const bool shared = tracing.client == tracing.server;
    tracing.client = resolveCollectors(tracing.client, registry, mesh.settings.root_namespace);
    tracing.server =
        shared ? tracing.client
               : resolveCollectors(tracing.server, registry, mesh.settings.root_namespace);
    markTracing(snapshot->listeners, tracing,
                resolveListenerTelemetry(config, mesh.settings.root_namespace, proxy.namespace_,
                                         proxy.labels, &notes, &mesh_telemetry));
  }

  TranslateResult result;
  const bool failed = sink.hasErrors();
  result.diagnostics = sink.take();
  if (failed) return result;  // never half-applied
  for (const auto& d : result.diagnostics) snapshot->warnings.push_back(formatDiagnostic(d));
  snapshot->warnings.insert(snapshot->warnings.end(), notes.begin(), notes.end());
  result.snapshot = std::move(snapshot);
  return result;
}

}  // namespace

TranslateResult buildSnapshot(const config::model::ConfigSet& config, const ProxyIdentity& proxy,
                              uint64_t version) {
  return translate(config, proxy, version, Part::kWhole);
}

TranslateResult buildSidecarOutbound(const config::model::ConfigSet& config,
                                     const ProxyIdentity& proxy, uint64_t version) {
  ProxyIdentity outbound = proxy;
  outbound.role = "sidecar";
  return translate(config, outbound, version, Part::kSidecarOutbound);
}

std::set<std::string> sidecarLabelKeys(const config::model::ConfigSet& config) {
  std::set<std::string> keys;
  auto addKeys = [&keys](const std::map<std::string, std::string>& selector) {
    for (const auto& [key, value] : selector) keys.insert(key);
  };
  // Every VirtualService, delegates too: their routes are merged into their roots'.
  for (const auto& vs : config.virtual_services) {
    for (const auto& route : vs.spec.http) {
      for (const auto& m : route.match) addKeys(m.source_labels);
    }
    // tcp and tls match blocks select by the sidecar's labels too (its TCP route tables).
    for (const auto& route : vs.spec.tcp) {
      for (const auto& m : route.match) addKeys(m.source_labels);
    }
    for (const auto& route : vs.spec.tls) {
      for (const auto& m : route.match) addKeys(m.source_labels);
    }
  }
  for (const auto& dr : config.destination_rules) {
    if (dr.spec.workload_selector) addKeys(dr.spec.workload_selector->match_labels);
  }
  return keys;
}

SidecarOwnBuilder::SidecarOwnBuilder(const config::model::ConfigSet& config,
                                     const std::vector<PeerWorkload>& gateways)
    : registry_(std::make_unique<const ServiceRegistry>(config)),
      registry_only_(meshSettings(config).registry_only),
      config_(config),
      mesh_telemetry_(std::make_unique<const MeshTelemetry>(readMeshTelemetry(config))),
      peer_workloads_(gateways.empty() ? registry_->peerWorkloads()
                                       : buildPeerWorkloads(config, gateways)) {}

SidecarOwnBuilder::~SidecarOwnBuilder() = default;

Snapshot SidecarOwnBuilder::build(const ProxyIdentity& proxy) const {
  Snapshot s;
  s.listeners = SidecarTranslator::ownListeners(*registry_, proxy, s.clusters, s.warnings);
  for (auto& l : s.listeners) {
    if (l.peer_workloads) l.peer_workloads = peer_workloads_;  // with the gateways
  }
  markRegistryOnly(s.listeners, registry_only_);
  markTracing(s.listeners,
              resolveTracingSides(config_, *mesh_telemetry_, mesh_telemetry_->root_namespace,
                                  proxy.namespace_, proxy.labels, &s.warnings),
              resolveListenerTelemetry(config_, mesh_telemetry_->root_namespace, proxy.namespace_,
                                       proxy.labels, &s.warnings, mesh_telemetry_.get()));
  return s;
}

TranslateResult loadSnapshot(const std::string& dir, const ProxyIdentity& proxy, uint64_t version) {
  config::LoadResult loaded = config::loadPaths({dir});
  TranslateResult result;
  result.diagnostics = std::move(loaded.diagnostics);
  for (const auto& o : loaded.objects) config::validateOne(o, result.diagnostics);
  if (hasErrors(result.diagnostics)) return result;  // never half-applied

  TranslateResult translated =
      buildSnapshot(config::buildConfigSet(loaded.objects), proxy, version);
  result.diagnostics.insert(result.diagnostics.end(),
                            std::make_move_iterator(translated.diagnostics.begin()),
                            std::make_move_iterator(translated.diagnostics.end()));
  result.snapshot = std::move(translated.snapshot);
  return result;
}

}  // namespace halyard::translate
