// Helpers shared by the VirtualService and Gateway analyzers (networking_analyzers.h): which pods
// a gateway selects, gateway lookup by reference, and every destination a VirtualService routes
// or mirrors to, with the field path diagnostics point at.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/model/config_set.h"
#include "config/model/host_name.h"
#include "config/model/object.h"
#include "config/validate/analysis.h"

namespace halyard::config::networking {

// "namespace/name" of a resource, with the analysis namespace default ("default").
std::string fullName(const model::ObjectMeta& meta);

// A selector as Kubernetes prints it: "app=reviews,version=v1" (keys in order).
using model::selectorText;

// IST0101 for a Gateway whose selector matches no pod, at the selector's first label.
void reportGatewayWithoutPods(const AnalysisContext& ctx, const model::Gateway& gw,
                              Diagnostics& out);

// Pods whose labels the selector matches, in load order (an empty selector selects every pod).
std::vector<const model::Pod*> podsSelectedBy(const model::ConfigSet& config,
                                              const std::map<std::string, std::string>& selector);

// Istio Gateways and Gateway API (gateway.networking.k8s.io) Gateways by "namespace/name".
class GatewayIndex {
 public:
  explicit GatewayIndex(const AnalysisContext& ctx);
  const model::Gateway* istio(const std::string& full_name) const;
  const Object* kubernetes(const std::string& full_name) const;

 private:
  std::unordered_map<std::string, const model::Gateway*> istio_;
  std::unordered_map<std::string, const Object*> kubernetes_;
};

// Whether the VirtualService applies to sidecars: no gateways listed, or "mesh" among them.
bool appliesToMesh(const model::VirtualService& vs);

// One destination of a VirtualService. `destination` is null for a route entry without one.
struct DestinationRef {
  const model::Destination* destination = nullptr;
  std::string path;  // of the destination ("spec.http[0].route[1].destination")
  bool mirror = false;
};

// The destinations of every http, tcp and tls route.
std::vector<DestinationRef> routeDestinations(const model::VirtualService& vs);
// The http mirror destinations (`mirror` and `mirrors[].destination`).
std::vector<DestinationRef> mirrorDestinations(const model::VirtualService& vs);

}  // namespace halyard::config::networking
