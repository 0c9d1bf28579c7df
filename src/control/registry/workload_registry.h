// The service registry's live part: workloads that register themselves when their sidecar
// connects (name, namespace, service account, labels, address, ports) and leave when its stream
// ends. They join translation as WorkloadEntry objects, as Istio's auto-registration makes them,
// so ServiceEntries (workloadSelector) and Kubernetes Services (selector) in the same namespace
// pick them up like any WorkloadEntry. A sidecar's entry is annotated with its inbound port, so
// the mesh reaches the workload through its sidecar, and its app port; it is labelled
// security.istio.io/tlsMode=istio, as Istio labels sidecar-injected pods, so auto mTLS sends it
// Istio mutual TLS (as its PeerAuthentication allows). ServiceEntries, WorkloadEntries and Services
// with their Endpoints from the config source are read by translate::ServiceRegistry directly.
//
// Only the control plane's controller thread uses it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/model/config_set.h"

namespace halyard::control {

struct Workload {
  std::string name;
  std::string namespace_;
  std::string service_account;
  std::string address;  // an IP address
  std::map<std::string, std::string> labels;
  std::map<std::string, uint16_t> ports;  // port name -> number
  std::string registered_by;              // the proxy's stream peer, for file:line-style origins
  // A sidecar's inbound port: every endpoint of the workload points there (the entry carries
  // translate::kInboundPortAnnotation), and the sidecar forwards to the app. 0: none.
  uint16_t inbound_port = 0;
  // The port the sidecar forwards to (the hello's first port), where PeerAuthentication's
  // portLevelMtls is looked up. 0: the only entry of `ports` when there is one.
  uint16_t app_port = 0;
};

class WorkloadRegistry {
 public:
  // Checks what a proxy sent (an IP address, a name, ports in range).
  static common::Expected<void> check(const Workload& workload);

  // `id` is the stream that registered it. True when the registry changed.
  bool add(uint64_t id, Workload workload);
  bool remove(uint64_t id);

  // Appends one WorkloadEntry per registered workload.
  void appendTo(config::model::ConfigSet& config) const;

  size_t size() const { return workloads_.size(); }

 private:
  std::map<uint64_t, Workload> workloads_;
};

}  // namespace halyard::control
