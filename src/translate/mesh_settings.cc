#include "translate/mesh_settings.h"

namespace halyard::translate {

MeshSettings meshSettings(const config::model::ConfigSet&) {
  return MeshSettings{};  // the ConfigMap is not read yet: Istio's defaults
}

}  // namespace halyard::translate
