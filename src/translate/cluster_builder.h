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
  // (at sidecars only with a workloadSelector, as in Istio).
  ClusterBuilder(const ServiceRegistry& registry, const DestinationRuleIndex& rules,
                 std::string proxy_namespace, const CredentialStore& credentials, bool gateway,
                 DiagnosticSink& sink);

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

  std::unordered_map<std::string, Cluster> take() { return std::move(clusters_); }

 private:
  void build(const std::string& name, const RegistryService& service, const RegistryPort& port,
             const std::string& subset);
  // The client TLS (SIMPLE or MUTUAL) of `c` from its effective tls block; a credential that is
  // missing leaves the cluster without endpoints rather than sending plaintext.
  void applyTls(Cluster& c, const config::model::ClientTLSSettings& tls,
                const MergedDestinationRule& rule, const config::model::Subset* subset);

  const ServiceRegistry& registry_;
  const DestinationRuleIndex& rules_;
  std::string proxy_namespace_;
  const CredentialStore& credentials_;
  bool gateway_;
  DiagnosticSink& sink_;
  std::unordered_map<std::string, Cluster> clusters_;
  std::unordered_map<std::string, bool> consistent_hash_;
  std::unordered_map<std::string, bool> resolved_;  // cluster name -> exists
};

}  // namespace halyard::translate
