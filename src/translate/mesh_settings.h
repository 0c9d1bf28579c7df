// The parts of Istio's MeshConfig the translation and the CA follow, read from the ConfigMap
// `istio` in the root namespace (key `mesh`), as Istio reads it; Istio's defaults otherwise.
#pragma once

#include <string>

#include "config/model/config_set.h"

namespace halyard::translate {

struct MeshSettings {
  std::string trust_domain = "cluster.local";  // of every SPIFFE ID the CA issues
  std::string root_namespace = "istio-system";  // mesh-wide policies live here
};

MeshSettings meshSettings(const config::model::ConfigSet& config);

}  // namespace halyard::translate
