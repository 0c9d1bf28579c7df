// Turns Istio configuration into the Snapshot a proxy serves. Both the standalone proxy (from a
// directory) and, later, the control plane (per connected proxy) call this, so they agree.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/model/diagnostic.h"
#include "translate/snapshot.h"

namespace halyard::translate {

// Who the snapshot is for. A gateway serves every Gateway whose selector matches its labels.
struct ProxyIdentity {
  std::string role = "gateway";  // "gateway" (later "sidecar")
  std::map<std::string, std::string> labels{{"istio", "ingressgateway"}};
  std::string namespace_ = "istio-system";
  std::string name = "halyard-gateway";
};

struct TranslateResult {
  std::shared_ptr<const Snapshot> snapshot;  // null when the config has errors
  config::Diagnostics diagnostics;           // errors (snapshot is null) and warnings
};

// Loads every Istio/Kubernetes YAML or JSON file under dir (recursive), validates it, and
// translates it. A config with any error produces no snapshot: never a half-applied config.
TranslateResult loadSnapshot(const std::string& dir, const ProxyIdentity& proxy, uint64_t version);

}  // namespace halyard::translate
