// The services a destination host can name (istio-semantics.md §0.2, §4, §5): Kubernetes
// Services (name.ns.svc.cluster.local) with their Endpoints, and ServiceEntry hosts with inline
// endpoints, WorkloadEntries chosen by workloadSelector, or DNS names. Built once per config.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model/config_set.h"
#include "translate/authz_compiler.h"
#include "translate/diagnostic_sink.h"
#include "translate/mesh_settings.h"
#include "translate/peer_authentication.h"
#include "translate/request_authentication.h"
#include "translate/snapshot.h"

namespace halyard::translate {

struct RegistryPort {
  uint16_t number = 0;
  std::string name;
  std::string protocol;  // as written (Service appProtocol / name prefix is not interpreted here)
  // Kubernetes: targetPort as a number (0 when absent or a name) and as a container-port name.
  // ServiceEntry: targetPort (0 when absent).
  uint16_t target_port = 0;
  std::string target_port_name;
};

struct RegistryService {
  std::string host;        // FQDN, lowercase
  std::string name;        // Kubernetes Service name, or the ServiceEntry host
  std::string namespace_;  // where it is declared
  std::vector<RegistryPort> ports;
  std::vector<std::string> export_to;  // ServiceEntry exportTo; empty: everywhere
  bool resolve_dns = false;            // ServiceEntry DNS / DNS_ROUND_ROBIN
  // Outside the mesh (a ServiceEntry not MESH_INTERNAL, an ExternalName Service): auto mTLS
  // never applies to it, as in Istio.
  bool mesh_external = false;
  const config::model::Service* kube = nullptr;
  const config::model::ServiceEntry* entry = nullptr;

  const RegistryPort* port(uint16_t number) const;
};

class ServiceRegistry {
 public:
  // The mesh settings (root namespace) are read from the config's istio ConfigMap.
  explicit ServiceRegistry(const config::model::ConfigSet& config);
  ServiceRegistry(const config::model::ConfigSet& config, const MeshSettings& mesh);

  // The service behind `host` for a route declared in `route_namespace`, as seen by a proxy in
  // `proxy_namespace`: a Kubernetes Service first (a ServiceEntry for the same host only
  // decorates it), else a visible ServiceEntry, preferring one in the route's namespace.
  const RegistryService* find(std::string_view host, std::string_view route_namespace,
                              std::string_view proxy_namespace) const;

  // Every host with a service visible in `proxy_namespace`, once, sorted by host: the service
  // find() picks for a route written in that namespace.
  std::vector<const RegistryService*> visibleIn(std::string_view proxy_namespace) const;

  // The first service by host in `namespace_` whose selector (a Service's selector, a
  // ServiceEntry's workloadSelector) selects a workload with `labels`; null when none does.
  const RegistryService* selecting(const std::map<std::string, std::string>& labels,
                                   std::string_view namespace_) const;

  // Every endpoint of `port` (subset filtering is the caller's). Problems (an address this
  // proxy cannot dial, a resolution mode it does not serve) are reported against the object.
  // An endpoint run by a workload with a sidecar (labelled security.istio.io/tlsMode=istio)
  // carries mesh_mtls / requires_mtls from its PeerAuthentication at its workload port.
  std::vector<Endpoint> endpoints(const RegistryService& service, const RegistryPort& port,
                                  DiagnosticSink& sink) const;

  // The subjectAltNames of the ServiceEntries behind `service`: its own, or for a Kubernetes
  // Service those of every ServiceEntry with the same host (which only decorates it). Istio
  // accepts them as server identities next to the endpoints' service accounts.
  std::vector<std::string> subjectAltNames(const RegistryService& service) const;

  const PeerAuthenticationIndex& peerAuthentication() const { return peer_auth_; }
  // The workloads by namespace and service account (peer_workloads.h), built once.
  const std::shared_ptr<const PeerWorkloads>& peerWorkloads() const { return peer_workloads_; }
  // The AuthorizationPolicies a workload enforces (authz_compiler.h); problems in `warnings`.
  std::vector<AuthzPolicy> authorization(const std::string& namespace_,
                                         const std::map<std::string, std::string>& labels,
                                         std::vector<std::string>& warnings,
                                         bool tcp = false) const {
    return authzPoliciesFor(config_, mesh_, AuthzScope{namespace_, labels, tcp}, warnings);
  }
  // The merged jwtRules of the RequestAuthentications a workload applies
  // (request_authentication.h), JWKS URIs resolved by the process's resolver.
  std::vector<JwtRule> requestAuthentication(const std::string& namespace_,
                                             const std::map<std::string, std::string>& labels,
                                             std::vector<std::string>& warnings) const {
    return jwtRulesFor(config_, mesh_, AuthnScope{namespace_, labels}, jwksResolver(), warnings);
  }
  const MeshSettings& mesh() const { return mesh_; }

 private:
  std::vector<Endpoint> kubeEndpoints(const RegistryService& service,
                                      const RegistryPort& port) const;
  std::vector<Endpoint> entryEndpoints(const RegistryService& service, const RegistryPort& port,
                                       DiagnosticSink& sink) const;
  // Pods and WorkloadEntries of `namespace_` whose labels match `selector`, with the port
  // each would receive `port` on.
  void selectWorkloads(const std::map<std::string, std::string>& selector,
                       const std::string& namespace_, const RegistryPort& port, bool include_pods,
                       std::vector<Endpoint>& out) const;
  // mesh_mtls / requires_mtls of `e` (its namespace and labels set) when a sidecar runs it:
  // the PeerAuthentication mode at `workload_port`, the port the workload itself listens on.
  void markMesh(Endpoint& e, uint16_t workload_port) const;

  // Pods and WorkloadEntries by "ns\nkey=value" for each of their labels, and by "ns\n" (all of
  // the namespace), each in configuration order: a selector looks at the workloads carrying its
  // first label only.
  template <typename T>
  using LabelIndex = std::map<std::string, std::vector<const T*>, std::less<>>;
  template <typename T>
  static void indexLabels(const T& workload, const std::map<std::string, std::string>& labels,
                          LabelIndex<T>& index);
  template <typename T>
  static const std::vector<const T*>& selected(const LabelIndex<T>& index,
                                               const std::map<std::string, std::string>& selector,
                                               const std::string& namespace_);

  std::multimap<std::string, RegistryService, std::less<>> by_host_;  // declaration order
  std::map<std::string, const config::model::Endpoints*> endpoints_;  // "ns/name"
  std::map<std::string, const config::model::Pod*> pods_by_name_;     // "ns/name"
  std::map<std::string, const config::model::Pod*> pods_by_ip_;       // "ns/ip"
  LabelIndex<config::model::Pod> pods_by_label_;
  LabelIndex<config::model::WorkloadEntry> workloads_by_label_;
  PeerAuthenticationIndex peer_auth_;
  const config::model::ConfigSet& config_;
  std::shared_ptr<const PeerWorkloads> peer_workloads_;
  MeshSettings mesh_;
};

}  // namespace halyard::translate
