// Builds the PeerWorkloads table (snapshot.h): who a mesh mutual TLS peer is beyond its
// certificate, the workload behind a namespace and service account, for the source_* labels of the
// TCP metrics a destination sidecar reports. Istio learns them from the caller's sidecar (its TCP
// metadata exchange, ALPN istio-peer-exchange); here the registry answers instead, which needs no
// extra bytes on the connection: the control plane pushes the table with the sidecar's inbound
// listener, and the sidecar looks up the namespace and service account its caller's SPIFFE ID
// names. A pair that several workloads share (or none) is not in the table: the labels stay
// "unknown", as Istio reports a peer it has no metadata for.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/model/config_set.h"
#include "translate/snapshot.h"

namespace halyard::translate {

// The row of one workload: its names as its labels give them (workloadNames).
PeerWorkload peerWorkload(const std::string& namespace_, const std::string& service_account,
                          const std::string& workload,
                          const std::map<std::string, std::string>& labels);

// Every Pod (service account "default" when it names none, as Kubernetes gives every pod one)
// and WorkloadEntry with a service account of `config`, and the `others` (gateways connected to a
// control plane, which are no WorkloadEntries), keeping the pairs exactly one names.
std::shared_ptr<const PeerWorkloads> buildPeerWorkloads(
    const config::model::ConfigSet& config, const std::vector<PeerWorkload>& others = {});

}  // namespace halyard::translate
