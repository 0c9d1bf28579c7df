#include "config/validate/analyzers/policy_support.h"

#include "config/yaml/kube_decode.h"

namespace halyard::config::policy {

namespace {

constexpr std::string_view kIstioProxyContainer = "istio-proxy";

bool hasContainerNamed(const Node* list, std::string_view name) {
  if (!list || !list->isList()) return false;
  for (const Node& c : list->items) {
    if (const Node* n = c.get("name"); n && n->str() == name) return true;
  }
  return false;
}

}  // namespace

model::ObjectMeta metaOf(const Object& obj) {
  return decodeObjectMeta(obj);
}

std::string_view valueOr(const std::map<std::string, std::string>& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? std::string_view() : std::string_view(it->second);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return toUpper(a) == toUpper(b);
}

std::string toUpper(std::string_view s) {
  std::string up(s);
  for (char& c : up) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return up;
}

const model::Namespace* findNamespace(const model::ConfigSet& config, std::string_view name) {
  for (const auto& ns : config.namespaces) {
    if (ns.meta.name == name) return &ns;
  }
  return nullptr;
}

bool namespaceInAmbientMode(const model::Namespace& ns) {
  const auto& labels = ns.meta.labels;
  if (valueOr(labels, kInjectionLabel) == "enabled") return false;
  if (!valueOr(labels, kRevisionLabel).empty()) return false;
  return valueOr(labels, kDataplaneModeLabel) == "ambient";
}

bool podInAmbientMode(const model::ConfigSet& config, const model::Pod& pod) {
  if (valueOr(pod.meta.annotations, kAmbientRedirectionAnnotation) == "enabled") return true;
  if (valueOr(pod.meta.labels, kDataplaneModeLabel) == "none") return false;
  const model::Namespace* ns = findNamespace(config, AnalysisContext::namespaceOf(pod.meta));
  return ns && namespaceInAmbientMode(*ns);
}

bool podInMesh(const AnalysisContext& ctx, const model::Pod& pod) {
  for (const auto& c : pod.containers) {
    if (c.name == kIstioProxyContainer) return true;
  }
  // Native sidecars are injected as init containers, which the typed Pod does not keep.
  if (const Object* src = ctx.sourceOf(pod.meta)) {
    if (const Node* spec = src->spec();
        spec && hasContainerNamed(spec->get("initContainers"), kIstioProxyContainer)) {
      return true;
    }
  }
  if (podInAmbientMode(ctx.config(), pod)) return true;
  // An explicit pod-level choice (label first, then annotation) overrides the namespace.
  for (const auto* m : {&pod.meta.labels, &pod.meta.annotations}) {
    if (auto it = m->find(std::string(kSidecarInjectKey)); it != m->end()) {
      return it->second == "true";
    }
  }
  const model::Namespace* ns = findNamespace(ctx.config(), AnalysisContext::namespaceOf(pod.meta));
  if (!ns) return false;
  const std::string_view injection = valueOr(ns->meta.labels, kInjectionLabel);
  if (injection == "enabled") return true;
  return injection != "disabled" && !valueOr(ns->meta.labels, kRevisionLabel).empty();
}

std::vector<const Object*> objectsOf(const AnalysisContext& ctx, std::string_view group,
                                     std::string_view kind) {
  std::vector<const Object*> found;
  for (const Object& o : ctx.objects()) {
    if (o.group == group && o.kind == kind) found.push_back(&o);
  }
  return found;
}

}  // namespace halyard::config::policy
