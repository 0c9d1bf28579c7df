// virtualservice.DestinationHostAnalyzer: every route and mirror destination must name a host of
// the service registry (Kubernetes Services and ServiceEntries) visible where the VirtualService
// is used (IST0101); when the service has several ports the destination must pick one (IST0112),
// and a picked port must exist (IST0101). A gateway VirtualService routing to a host without a
// subset, where a mesh VirtualService routes that host by subsets, bypasses those rules at the
// gateway (IST0140).
//
// Visibility follows istioctl: a service exported everywhere is always found; otherwise it must be
// exported to one of the namespaces the VirtualService itself is exported to (its own namespace
// when exportTo is empty). Wildcard ServiceEntry hosts match by suffix, when exported everywhere
// or to the VirtualService's namespace.
#include <set>
#include <sstream>
#include <unordered_map>

#include "config/model/host_name.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

constexpr std::string_view kEverywhere = "*";
constexpr std::string_view kServiceExportToAnnotation = "networking.istio.io/exportTo";

struct RegistryHost {
  std::string host;              // fully qualified, or a wildcard
  std::set<std::string> scopes;  // namespaces that see it; "*" for all
  std::vector<int64_t> ports;

  bool seenFrom(const std::set<std::string>& namespaces) const {
    for (const auto& s : scopes) {
      if (namespaces.contains(s)) return true;
    }
    return false;
  }
};

std::set<std::string> scopesOf(const std::vector<std::string>& export_to, const std::string& ns) {
  if (export_to.empty()) return {std::string(kEverywhere)};
  std::set<std::string> scopes;
  for (const auto& e : export_to) {
    if (e != "~") scopes.insert(e == "." ? ns : e);  // "~": visible nowhere
  }
  if (scopes.contains(std::string(kEverywhere))) return {std::string(kEverywhere)};
  return scopes;
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  std::stringstream in{std::string(text)};
  for (std::string item; std::getline(in, item, ',');) {
    auto b = item.find_first_not_of(' ');
    auto e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

// Every host of the Services and ServiceEntries, indexed by name; wildcards also in a list for
// suffix matching.
class Registry {
 public:
  explicit Registry(const model::ConfigSet& config) {
    for (const auto& se : config.service_entries) {
      const std::string& ns = AnalysisContext::namespaceOf(se.meta);
      std::vector<int64_t> ports;
      for (const auto& p : se.spec.ports) ports.push_back(p.number.value_or(0));
      for (const auto& h : se.spec.hosts) {
        add({model::resolveShortName(h, ns), scopesOf(se.spec.export_to, ns), ports});
      }
    }
    for (const auto& svc : config.services) {
      const std::string& ns = AnalysisContext::namespaceOf(svc.meta);
      std::vector<std::string> export_to;
      if (auto it = svc.meta.annotations.find(std::string(kServiceExportToAnnotation));
          it != svc.meta.annotations.end()) {
        export_to = splitList(it->second);
      }
      std::vector<int64_t> ports;
      for (const auto& p : svc.ports) ports.push_back(p.port);
      add({model::resolveShortName(svc.meta.name, ns), scopesOf(export_to, ns), ports});
    }
    for (const auto& [host, entries] : by_host_) {
      if (host.starts_with('*')) {
        for (const auto& e : entries) wildcards_.push_back(&e);
      }
    }
  }

  const RegistryHost* lookup(const std::string& host, const model::VirtualService& vs) const {
    const std::string& ns = AnalysisContext::namespaceOf(vs.meta);
    std::set<std::string> wanted{std::string(kEverywhere)};
    if (vs.spec.export_to.empty()) wanted.insert(ns);
    for (const auto& e : vs.spec.export_to) wanted.insert(e == "." ? ns : e);
    if (auto it = by_host_.find(host); it != by_host_.end()) {
      for (const auto& r : it->second) {
        if (r.seenFrom(wanted)) return &r;
      }
    }
    const std::set<std::string> local{std::string(kEverywhere), ns};
    const std::string_view suffix = host.starts_with('*') ? std::string_view(host).substr(1) : host;
    for (const RegistryHost* r : wildcards_) {
      if (r->seenFrom(local) && suffix.ends_with(std::string_view(r->host).substr(1))) return r;
    }
    return nullptr;
  }

 private:
  void add(RegistryHost r) { by_host_[r.host].push_back(std::move(r)); }

  std::unordered_map<std::string, std::vector<RegistryHost>> by_host_;
  std::vector<const RegistryHost*> wildcards_;
};

std::string portList(const std::vector<int64_t>& ports) {
  std::string out;
  for (int64_t p : ports) out += (out.empty() ? "" : ", ") + std::to_string(p);
  return out;
}

void checkDestination(const AnalysisContext& ctx, const Registry& registry,
                      const model::VirtualService& vs, const networking::DestinationRef& d,
                      Diagnostics& out) {
  const std::string written = d.destination ? d.destination->host.value_or("") : "";
  const std::string what = d.mirror ? "mirror host" : "host";
  const std::string host_path = d.path + (d.destination ? ".host" : "");
  // A route entry without a destination matches nothing, even a registry entry with an empty
  // name (the fuzzer found one).
  const RegistryHost* r =
      d.destination
          ? registry.lookup(model::resolveShortName(written, AnalysisContext::namespaceOf(vs.meta)),
                            vs)
          : nullptr;
  if (!r) {
    ctx.report(out, msg::kReferencedResourceNotFound, vs.meta, host_path,
               "Referenced " + what + " not found: \"" + written + "\"" +
                   (d.destination ? "" : " (the route entry has no destination)"));
    return;
  }
  const auto& port = d.destination->port;
  if (!port || !port->number) {
    if (r->ports.size() > 1) {
      ctx.report(out, msg::kVirtualServiceDestinationPortSelectorRequired, vs.meta, host_path,
                 "Destination host \"" + written + "\" has several ports (" + portList(r->ports) +
                     "); the destination must select one with port.number");
    }
    return;
  }
  for (int64_t p : r->ports) {
    if (p == *port->number) return;
  }
  ctx.report(out, msg::kReferencedResourceNotFound, vs.meta, d.path + ".port.number",
             "Referenced " + what + ":port not found: \"" + written + ":" +
                 std::to_string(*port->number) + "\" (ports: " + portList(r->ports) + ")");
}

bool boundToGateway(const model::VirtualService& vs) {
  for (const auto& gw : vs.spec.gateways) {
    if (gw != "mesh") return true;
  }
  return false;
}

// Mesh VirtualServices by the hosts they route to by subset among their own hosts: the rules an
// ingress route to that host without a subset skips.
std::unordered_map<std::string, std::vector<const model::VirtualService*>> meshSubsetRouting(
    const model::ConfigSet& config) {
  std::unordered_map<std::string, std::vector<const model::VirtualService*>> out;
  for (const auto& vs : config.virtual_services) {
    if (!networking::appliesToMesh(vs)) continue;
    const std::string& ns = AnalysisContext::namespaceOf(vs.meta);
    std::set<std::string> own;
    for (const auto& h : vs.spec.hosts) own.insert(model::resolveShortName(h, ns));
    std::set<std::string> routed;
    for (const auto& d : networking::routeDestinations(vs)) {
      if (!d.destination || d.destination->subset.value_or("").empty()) continue;
      std::string host = model::resolveShortName(d.destination->host.value_or(""), ns);
      if (own.contains(host)) routed.insert(host);
    }
    for (const auto& h : routed) out[h].push_back(&vs);
  }
  return out;
}

void checkIngressBypass(
    const AnalysisContext& ctx,
    const std::unordered_map<std::string, std::vector<const model::VirtualService*>>&
        subset_routing,
    const model::VirtualService& vs, Diagnostics& out) {
  if (!boundToGateway(vs)) return;
  const std::string& ns = AnalysisContext::namespaceOf(vs.meta);
  for (size_t i = 0; i < vs.spec.http.size(); ++i) {
    const auto& routes = vs.spec.http[i].route;
    for (size_t j = 0; j < routes.size(); ++j) {
      const auto& dest = routes[j].destination;
      if (!dest || !dest->subset.value_or("").empty()) continue;
      const std::string host = model::resolveShortName(dest->host.value_or(""), ns);
      auto it = subset_routing.find(host);
      if (it == subset_routing.end()) continue;
      for (const model::VirtualService* mesh_vs : it->second) {
        if (mesh_vs == &vs) continue;
        ctx.report(out, msg::kIngressRouteRulesNotAffected, vs.meta,
                   "spec.http[" + std::to_string(i) + "].route[" + std::to_string(j) +
                       "].destination.host",
                   "Subset routing of VirtualService " + networking::fullName(mesh_vs->meta) +
                       " for host \"" + host +
                       "\" does not apply to traffic from the gateway routes of " +
                       networking::fullName(vs.meta) + "; give this destination a subset");
      }
    }
  }
}

class DestinationHostAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "virtualservice.DestinationHostAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const Registry registry(ctx.config());
    const auto subset_routing = meshSubsetRouting(ctx.config());
    for (const auto& vs : ctx.config().virtual_services) {
      for (const auto& d : networking::routeDestinations(vs)) {
        checkDestination(ctx, registry, vs, d, out);
      }
      for (const auto& d : networking::mirrorDestinations(vs)) {
        checkDestination(ctx, registry, vs, d, out);
      }
      checkIngressBypass(ctx, subset_routing, vs, out);
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeDestinationHostAnalyzer() {
  return std::make_unique<DestinationHostAnalyzer>();
}

}  // namespace halyard::config
