// The parts of Istio's MeshConfig the translation and the CA follow, read from the ConfigMap
// `istio` in the root namespace (key `mesh`), as Istio reads it; Istio's defaults otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model/config_set.h"
#include "translate/authz.h"
#include "translate/snapshot.h"

namespace halyard::translate {

struct MeshSettings {
  std::string trust_domain = "cluster.local";   // of every SPIFFE ID the CA issues
  std::string root_namespace = "istio-system";  // mesh-wide policies live here
  // outboundTrafficPolicy.mode: what a sidecar does with a host outside the registry (an
  // absolute-form request or a CONNECT through its outbound listener). ALLOW_ANY (Istio's
  // default): passed through to the host itself; REGISTRY_ONLY: refused.
  bool registry_only = false;
  // extensionProviders of kind envoyExtAuthzHttp / envoyExtAuthzGrpc (other kinds are read by
  // the telemetry side), in the order given; `cluster` is filled by the translation.
  std::vector<AuthzExtProvider> ext_authz_providers;
  // gatewayTopology.numTrustedProxies (defaultConfig's, else the mesh's): how many proxies in
  // front of the gateways append to X-Forwarded-For; remote.ip is the address they saw.
  uint32_t num_trusted_proxies = 0;
  // pathNormalization.normalization (DEFAULT is BASE).
  PathNormalization path_normalization = PathNormalization::kBase;
  // protocolDetectionTimeout: how long a sidecar listener that sniffs the protocol of a port
  // whose protocol is not declared waits for the client's first bytes before it proxies the
  // connection as plain TCP (a server-first protocol: MySQL, SMTP...). 0 (Istio's default, "0s"):
  // no such timeout, the proxy waits for the client to speak.
  Millis protocol_detection_timeout{0};
};

// Where the settings came from, and why the ConfigMap's value was not used when it was not.
struct MeshSettingsSource {
  MeshSettings settings;
  // The istio ConfigMap, null when the config has none (Istio's defaults then apply silently).
  const config::model::ConfigMap* config_map = nullptr;
  // Set when the ConfigMap's `mesh` value is unusable (not YAML, not a map, a field of the wrong
  // type, a malformed trust domain): a sentence naming the problem, about `config_map`.
  // `settings` are then Istio's defaults, all of them, so a half-read mesh config never mixes
  // with defaults.
  std::string error;
};

// The namespace and name of the ConfigMap istiod reads its MeshConfig from.
inline constexpr const char* kMeshConfigNamespace = "istio-system";
inline constexpr const char* kMeshConfigName = "istio";

MeshSettingsSource readMeshSettings(const config::model::ConfigSet& config);

// readMeshSettings(config).settings: for callers that need no diagnostics (the CA).
MeshSettings meshSettings(const config::model::ConfigSet& config);

}  // namespace halyard::translate
