// Turns Istio configuration into the Snapshot a proxy serves. Both the standalone proxy (from a
// directory) and, later, the control plane (per connected proxy) call this, so they agree.
// Semantics follow Istio's gateway route generation: shared/docs/istio-semantics.md §0-§4.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/model/config_set.h"
#include "config/model/diagnostic.h"
#include "translate/snapshot.h"

namespace halyard::translate {

// Who the snapshot is for. A gateway serves every Gateway whose selector matches its labels.
struct ProxyIdentity {
  std::string role = "gateway";  // "gateway" or "sidecar"
  std::map<std::string, std::string> labels{{"istio", "ingressgateway"}};
  std::string namespace_ = "istio-system";
  std::string name = "halyard-gateway";
  // Sidecars only. The inbound listener binds address:inbound_port and forwards to
  // 127.0.0.1:app_port; the outbound HTTP proxy listener binds 127.0.0.1:outbound_port.
  std::string service_account;
  std::string address = "127.0.0.1";
  uint16_t app_port = 0;
  uint16_t inbound_port = 15006;
  uint16_t outbound_port = 15001;
};

// The annotation on a WorkloadEntry whose traffic goes to its sidecar's inbound listener: every
// endpoint of that workload, whatever the service's targetPort, uses this port. The control plane
// sets it on the WorkloadEntries sidecars register; a hand-written WorkloadEntry may set it too.
inline constexpr const char* kInboundPortAnnotation = "halyard.dev/inbound-port";
// The port that workload's app listens on behind its sidecar (the port the sidecar forwards to):
// PeerAuthentication's portLevelMtls names app ports, so the endpoint's mTLS mode is looked up
// there. Without it, the port the entry maps the service port to is used.
inline constexpr const char* kAppPortAnnotation = "halyard.dev/app-port";
// The label Istio's injector puts on pods that run a sidecar: value "istio" means the workload
// takes Istio mutual TLS (auto mTLS sends it mTLS). The control plane sets it on the
// WorkloadEntries sidecars register; a hand-written WorkloadEntry or Pod may carry it too.
inline constexpr const char* kTlsModeLabel = "security.istio.io/tlsMode";
inline constexpr const char* kIstioTlsMode = "istio";

struct TranslateResult {
  std::shared_ptr<const Snapshot> snapshot;  // null when the config has errors
  config::Diagnostics diagnostics;           // errors (snapshot is null) and warnings
};

// Loads every Istio/Kubernetes YAML or JSON file under dir (recursive), validates every object,
// and translates it. A config with any error produces no snapshot: never a half-applied config.
TranslateResult loadSnapshot(const std::string& dir, const ProxyIdentity& proxy, uint64_t version);

// The translation itself, over a typed configuration that is already loaded (and validated by
// the caller). Problems found while translating are diagnostics too: errors (a regex RE2 rejects,
// a malformed duration) mean no snapshot; warnings (a destination that resolves to nothing, a
// field this proxy does not enforce) are kept in the result and in Snapshot::warnings.
TranslateResult buildSnapshot(const config::model::ConfigSet& config, const ProxyIdentity& proxy,
                              uint64_t version);

// A sidecar's snapshot in two parts, so a control plane can translate the expensive one once for
// many sidecars; buildSnapshot for a sidecar is both composed.
//
// The outbound part: the 0.0.0.0_<port> listeners and every cluster they name. It reads only
// the proxy's namespace and, of its labels, only those whose keys sidecarLabelKeys(config) lists
// (VirtualService sourceLabels, DestinationRule workloadSelector), so sidecars of one namespace
// whose labels agree on those keys get equal outbound parts.
std::set<std::string> sidecarLabelKeys(const config::model::ConfigSet& config);
TranslateResult buildSidecarOutbound(const config::model::ConfigSet& config,
                                     const ProxyIdentity& proxy, uint64_t version);

class ServiceRegistry;
struct MeshTelemetry;

// The sidecar's own part: virtualInbound with its inbound|<app_port>|| cluster (when it has an
// app port) and virtualOutbound. Reads no VirtualService or DestinationRule and reports nothing;
// one builder serves every sidecar of a config (which must outlive it).
class SidecarOwnBuilder {
 public:
  // `gateways`: the gateways a control plane has connected (no WorkloadEntries, unlike the
  // sidecars), so that a destination knows them as TCP callers too (Listener::peer_workloads).
  explicit SidecarOwnBuilder(const config::model::ConfigSet& config,
                             const std::vector<PeerWorkload>& gateways = {});
  ~SidecarOwnBuilder();
  SidecarOwnBuilder(const SidecarOwnBuilder&) = delete;
  SidecarOwnBuilder& operator=(const SidecarOwnBuilder&) = delete;

  Snapshot build(const ProxyIdentity& proxy) const;  // listeners and clusters only
  // The one table of peer workloads every built listener that uses one shares (null: none).
  const std::shared_ptr<const PeerWorkloads>& peerWorkloads() const { return peer_workloads_; }

 private:
  std::unique_ptr<const ServiceRegistry> registry_;
  bool registry_only_ = false;  // MeshConfig outboundTrafficPolicy, for the outbound listener
  const config::model::ConfigSet& config_;
  std::unique_ptr<const MeshTelemetry> mesh_telemetry_;  // tracing providers (issue 14)
  std::shared_ptr<const PeerWorkloads> peer_workloads_;  // the registry's and the gateways
};

}  // namespace halyard::translate
