// Helpers shared by the policy analyzers (policy_analyzers.h): reporting on objects the typed
// ConfigSet does not hold, Kubernetes-style selector text, and which pods are in the mesh
// (sidecar or ambient), as istioctl analyze decides it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/model/config_set.h"
#include "config/model/host_name.h"
#include "config/model/object.h"
#include "config/validate/analysis.h"

namespace halyard::config::policy {

// Label and annotation names Istio uses to mark injection and ambient mode.
inline constexpr std::string_view kInjectionLabel = "istio-injection";
inline constexpr std::string_view kRevisionLabel = "istio.io/rev";
inline constexpr std::string_view kSidecarInjectKey = "sidecar.istio.io/inject";
inline constexpr std::string_view kDataplaneModeLabel = "istio.io/dataplane-mode";
inline constexpr std::string_view kAmbientRedirectionAnnotation = "ambient.istio.io/redirection";
inline constexpr std::string_view kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

// The metadata of a raw loaded object, so analyzers can report on kinds with no typed model
// (Deployment, WasmPlugin, Telemetry, Gateway API kinds).
model::ObjectMeta metaOf(const Object& obj);

// A selector as Kubernetes prints it: "app=reviews,version=v1" (keys in order).
using model::selectorText;

// The value of a string-valued map entry, or "" when absent.
std::string_view valueOr(const std::map<std::string, std::string>& m, std::string_view key);

// ASCII case-insensitive comparison (protocol names).
bool equalsIgnoreCase(std::string_view a, std::string_view b);
std::string toUpper(std::string_view s);

const model::Namespace* findNamespace(const model::ConfigSet& config, std::string_view name);

// A namespace labelled istio.io/dataplane-mode=ambient that does not also ask for sidecar
// injection (istio-injection=enabled or an istio.io/rev label win over ambient).
bool namespaceInAmbientMode(const model::Namespace& ns);

// A pod redirected into ambient: marked by the CNI annotation, or in an ambient namespace and
// not opted out with istio.io/dataplane-mode=none.
bool podInAmbientMode(const model::ConfigSet& config, const model::Pod& pod);

// A pod the mesh manages: it has an istio-proxy container (or init container), injection is
// requested for it (pod label/annotation, else namespace label), or it is in ambient mode.
bool podInMesh(const AnalysisContext& ctx, const model::Pod& pod);

// Every loaded object of this API group and kind, in load order.
std::vector<const Object*> objectsOf(const AnalysisContext& ctx, std::string_view group,
                                     std::string_view kind);

}  // namespace halyard::config::policy
