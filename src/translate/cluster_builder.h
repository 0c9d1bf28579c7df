// Route destinations -> cluster names and the Clusters behind them (istio-semantics.md §1.3,
// §3, §4). A destination that resolves to nothing still gets its cluster name (the proxy then
// answers 503 NC because the cluster does not exist), with a warning.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/model/istio_types.h"
#include "translate/credentials.h"
#include "translate/destination_rule_index.h"
#include "translate/diagnostic_sink.h"
#include "translate/mesh_settings.h"
#include "translate/service_registry.h"
#include "translate/snapshot.h"

namespace halyard::translate {

// Who refers to a destination, for warnings and short-name resolution.
struct DestinationRef {
  const config::model::ObjectMeta* meta;  // the VirtualService that declares the route
  std::string field_path;                 // "spec.http[0].route[1].destination"
};

class ClusterBuilder {
 public:
  // `gateway`: the proxy is a gateway, where a DestinationRule's tls.credentialName always applies
  // (at sidecars only with a workloadSelector, as in Istio). `mesh` gives the trust domain of
  // the SPIFFE IDs Istio mutual TLS verifies.
  ClusterBuilder(const ServiceRegistry& registry, const DestinationRuleIndex& rules,
                 std::string proxy_namespace, const CredentialStore& credentials, bool gateway,
                 const MeshSettings& mesh, DiagnosticSink& sink);

  // The cluster name "outbound|<port>|<subset>|<host>" for a destination whose host is already
  // an FQDN, routed from a listener on `listener_port`: the port is destination.port, else the
  // service's only port, else the listener port. Builds the Cluster the first time.
  std::string resolve(const config::model::Destination& destination, const DestinationRef& ref,
                      std::string_view route_namespace, uint16_t listener_port);

  // True when the destination's effective load balancer is consistent hashing (Istio then
  // drops the "previous hosts" retry predicate by default).
  bool usesConsistentHash(const std::string& cluster_name) const;

  // A cluster that no destination names (a sidecar's inbound cluster), kept as given.
  void add(Cluster cluster);

  // Istio's SNI-DNAT cluster of an AUTO_PASSTHROUGH gateway: the cluster of `host` (an FQDN)
  // `port` and `subset`, named as its SNI "outbound_.<port>_.<subset>_.<host>", without TLS
  // origination (what arrives is already the caller's mutual TLS to the destination). Its name.
  std::string resolveSniDnat(const RegistryService& service, uint16_t port,
                             const std::string& subset);

  const ServiceRegistry& registry() const { return registry_; }
  const DestinationRuleIndex& rules() const { return rules_; }

  std::unordered_map<std::string, Cluster> take() { return std::move(clusters_); }

 private:
  void build(const std::string& name, const RegistryService& service, const RegistryPort& port,
             const std::string& subset);
  // The client TLS (SIMPLE or MUTUAL) of `c` from its effective tls block, which `owner` wrote
  // at `path` ("spec.trafficPolicy.tls"); a credential that is missing leaves the cluster
  // without endpoints rather than sending plaintext.
  void applyTls(Cluster& c, const config::model::ClientTLSSettings& tls,
                const config::model::DestinationRule& owner, const std::string& path);
  // Istio mutual TLS to `service`'s endpoints (DestinationRule ISTIO_MUTUAL, or auto mTLS): SNI
  // and SANs as Istio computes them unless the tls block sets its own.
  UpstreamTls istioMutual(const Cluster& c, const RegistryService& service,
                          const std::vector<Endpoint>& all_endpoints,
                          const config::model::ClientTLSSettings* tls) const;

  const ServiceRegistry& registry_;
  const DestinationRuleIndex& rules_;
  std::string proxy_namespace_;
  const CredentialStore& credentials_;
  bool gateway_;
  std::string trust_domain_;
  DiagnosticSink& sink_;
  std::unordered_map<std::string, Cluster> clusters_;
  std::unordered_map<std::string, bool> consistent_hash_;
  std::unordered_map<std::string, bool> resolved_;  // cluster name -> exists
};

}  // namespace halyard::translate
