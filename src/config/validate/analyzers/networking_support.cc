#include "config/validate/analyzers/networking_support.h"

#include "config/model/host_name.h"

namespace halyard::config::networking {

std::string fullName(const model::ObjectMeta& meta) {
  return AnalysisContext::namespaceOf(meta) + "/" + meta.name;
}

void reportGatewayWithoutPods(const AnalysisContext& ctx, const model::Gateway& gw,
                              Diagnostics& out) {
  const auto& selector = gw.spec.selector;
  std::string path = "spec.selector";
  if (!selector.empty()) path += "[" + selector.begin()->first + "]";
  ctx.report(out, msg::kReferencedResourceNotFound, gw.meta, path,
             "Referenced selector not found: \"" + selectorText(selector) +
                 "\" (no pod carries these labels)");
}

std::vector<const model::Pod*> podsSelectedBy(const model::ConfigSet& config,
                                              const std::map<std::string, std::string>& selector) {
  std::vector<const model::Pod*> pods;
  for (const auto& pod : config.pods) {
    if (model::selectorMatches(selector, pod.meta.labels)) pods.push_back(&pod);
  }
  return pods;
}

GatewayIndex::GatewayIndex(const AnalysisContext& ctx) {
  // The first of several objects with one name wins, as a later duplicate would be rejected.
  for (const auto& gw : ctx.config().gateways) istio_.emplace(fullName(gw.meta), &gw);
  for (const auto& obj : ctx.objects()) {
    if (obj.group == "gateway.networking.k8s.io" && obj.kind == "Gateway") {
      kubernetes_.emplace(obj.namespaceOrDefault() + "/" + obj.name, &obj);
    }
  }
}

const model::Gateway* GatewayIndex::istio(const std::string& full_name) const {
  auto it = istio_.find(full_name);
  return it == istio_.end() ? nullptr : it->second;
}

const Object* GatewayIndex::kubernetes(const std::string& full_name) const {
  auto it = kubernetes_.find(full_name);
  return it == kubernetes_.end() ? nullptr : it->second;
}

bool appliesToMesh(const model::VirtualService& vs) {
  if (vs.spec.gateways.empty()) return true;
  for (const auto& gw : vs.spec.gateways) {
    if (gw == "mesh") return true;
  }
  return false;
}

namespace {

template <typename Route>
void addRoutes(const std::vector<Route>& routes, const std::string& kind,
               std::vector<DestinationRef>& out) {
  for (size_t i = 0; i < routes.size(); ++i) {
    for (size_t j = 0; j < routes[i].route.size(); ++j) {
      const auto& rd = routes[i].route[j];
      std::string path =
          "spec." + kind + "[" + std::to_string(i) + "].route[" + std::to_string(j) + "]";
      out.push_back(DestinationRef{rd.destination ? &*rd.destination : nullptr,
                                   rd.destination ? path + ".destination" : path, false});
    }
  }
}

}  // namespace

std::vector<DestinationRef> routeDestinations(const model::VirtualService& vs) {
  std::vector<DestinationRef> out;
  addRoutes(vs.spec.http, "http", out);
  addRoutes(vs.spec.tcp, "tcp", out);
  addRoutes(vs.spec.tls, "tls", out);
  return out;
}

std::vector<DestinationRef> mirrorDestinations(const model::VirtualService& vs) {
  std::vector<DestinationRef> out;
  for (size_t i = 0; i < vs.spec.http.size(); ++i) {
    const auto& route = vs.spec.http[i];
    const std::string base = "spec.http[" + std::to_string(i) + "]";
    if (route.mirror) out.push_back(DestinationRef{&*route.mirror, base + ".mirror", true});
    for (size_t j = 0; j < route.mirrors.size(); ++j) {
      const auto& m = route.mirrors[j];
      if (!m.destination) continue;
      out.push_back(DestinationRef{&*m.destination,
                                   base + ".mirrors[" + std::to_string(j) + "].destination", true});
    }
  }
  return out;
}

}  // namespace halyard::config::networking
