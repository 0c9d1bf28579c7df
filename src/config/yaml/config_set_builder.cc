#include "config/yaml/config_set_builder.h"

#include <string_view>

#include "config/yaml/istio_decode.h"
#include "config/yaml/kube_decode.h"

namespace halyard::config {
namespace {

bool servedNetworking(std::string_view version) {
  return version == "v1" || version == "v1beta1" || version == "v1alpha3";
}

bool servedSecurity(std::string_view version) {
  return version == "v1" || version == "v1beta1";
}

void addNetworking(const Object& obj, model::ConfigSet& set) {
  const std::string& k = obj.kind;
  if (k == "Gateway") {
    set.gateways.push_back(decodeGateway(obj));
  } else if (k == "VirtualService") {
    set.virtual_services.push_back(decodeVirtualService(obj));
  } else if (k == "DestinationRule") {
    set.destination_rules.push_back(decodeDestinationRule(obj));
  } else if (k == "ServiceEntry") {
    set.service_entries.push_back(decodeServiceEntry(obj));
  } else if (k == "WorkloadEntry") {
    set.workload_entries.push_back(decodeWorkloadEntry(obj));
  } else if (k == "WorkloadGroup") {
    set.workload_groups.push_back(decodeWorkloadGroup(obj));
  } else if (k == "Sidecar") {
    set.sidecars.push_back(decodeSidecar(obj));
  }
}

void addSecurity(const Object& obj, model::ConfigSet& set) {
  const std::string& k = obj.kind;
  if (k == "PeerAuthentication") {
    set.peer_authentications.push_back(decodePeerAuthentication(obj));
  } else if (k == "AuthorizationPolicy") {
    set.authorization_policies.push_back(decodeAuthorizationPolicy(obj));
  } else if (k == "RequestAuthentication") {
    set.request_authentications.push_back(decodeRequestAuthentication(obj));
  }
}

void addCore(const Object& obj, model::ConfigSet& set) {
  const std::string& k = obj.kind;
  if (k == "Service") {
    set.services.push_back(decodeService(obj));
  } else if (k == "Endpoints") {
    set.endpoints.push_back(decodeEndpoints(obj));
  } else if (k == "Namespace") {
    set.namespaces.push_back(decodeNamespace(obj));
  } else if (k == "Pod") {
    set.pods.push_back(decodePod(obj));
  } else if (k == "Secret") {
    set.secrets.push_back(decodeSecret(obj));
  } else if (k == "ConfigMap") {
    set.config_maps.push_back(decodeConfigMap(obj));
  }
}

}  // namespace

model::ConfigSet buildConfigSet(const std::vector<Object>& objects) {
  model::ConfigSet set;
  // The typed structs are large; reserving exactly avoids up to half of each vector being
  // spare capacity after doubling (this matters at tens of thousands of objects).
  size_t vs = 0, dr = 0, svc = 0;
  for (const Object& obj : objects) {
    vs += obj.kind == "VirtualService";
    dr += obj.kind == "DestinationRule";
    svc += obj.kind == "Service";
  }
  set.virtual_services.reserve(vs);
  set.destination_rules.reserve(dr);
  set.services.reserve(svc);
  for (const Object& obj : objects) {
    if (obj.group == "networking.istio.io" && servedNetworking(obj.version)) {
      addNetworking(obj, set);
    } else if (obj.group == "security.istio.io" && servedSecurity(obj.version)) {
      addSecurity(obj, set);
    } else if (obj.group.empty() && obj.version == "v1") {
      addCore(obj, set);
    } else if (obj.group == "telemetry.istio.io" && obj.kind == "Telemetry" &&
               (obj.version == "v1" || obj.version == "v1alpha1")) {
      set.telemetries.push_back(obj);
    }
  }
  return set;
}

}  // namespace halyard::config
