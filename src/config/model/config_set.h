// Every typed object of one configuration, by kind, in load order. Built from loaded Objects by
// config/yaml/config_set_builder.h; objects of other kinds are not in it.
#pragma once

#include <vector>

#include "config/model/istio_types.h"
#include "config/model/kubernetes.h"
#include "config/model/object.h"

namespace halyard::config::model {

struct ConfigSet {
  // networking.istio.io
  std::vector<Gateway> gateways;
  std::vector<VirtualService> virtual_services;
  std::vector<DestinationRule> destination_rules;
  std::vector<ServiceEntry> service_entries;
  std::vector<WorkloadEntry> workload_entries;
  std::vector<WorkloadGroup> workload_groups;
  std::vector<Sidecar> sidecars;
  // security.istio.io
  std::vector<PeerAuthentication> peer_authentications;
  std::vector<AuthorizationPolicy> authorization_policies;
  std::vector<RequestAuthentication> request_authentications;
  // core v1
  std::vector<Service> services;
  std::vector<Endpoints> endpoints;
  std::vector<Namespace> namespaces;
  std::vector<Pod> pods;
  std::vector<Secret> secrets;
  std::vector<ConfigMap> config_maps;
  // telemetry.istio.io Telemetry (v1, v1alpha1): no typed model; translate/telemetry_config.h
  // reads the document tree.
  std::vector<Object> telemetries;
};

}  // namespace halyard::config::model
