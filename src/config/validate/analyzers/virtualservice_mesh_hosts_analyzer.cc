// virtualservice.ConflictingMeshGatewayHostsAnalyzer: two VirtualServices that apply to sidecars
// must not claim the same host for the same namespaces; which one wins is undefined (IST0109).
// Each host is scoped by the VirtualService's exportTo. Two entries collide when they are the
// same host for the same scope, or when one is exported everywhere and the other, exported to
// chosen namespaces, names a host it matches.
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>

#include "config/model/host_name.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

constexpr std::string_view kEverywhere = "*";

struct ScopedHost {
  size_t vs;          // index among the mesh VirtualServices
  size_t index;       // in spec.hosts
  std::string scope;  // a namespace, or "*" for every namespace
  std::string host;   // fully qualified
};

void addScopedHosts(const model::VirtualService& vs, size_t vs_index,
                    std::vector<ScopedHost>& out) {
  const std::string& ns = AnalysisContext::namespaceOf(vs.meta);
  const auto& export_to = vs.spec.export_to;
  std::set<std::string> scopes;
  bool everywhere = export_to.empty();
  for (const auto& e : export_to) {
    everywhere |= e == kEverywhere;
    scopes.insert(e == "." ? ns : e);
  }
  if (everywhere) scopes = {std::string(kEverywhere)};
  for (const auto& scope : scopes) {
    for (size_t i = 0; i < vs.spec.hosts.size(); ++i) {
      out.push_back({vs_index, i, scope, model::resolveShortName(vs.spec.hosts[i], ns)});
    }
  }
}

// What each VirtualService collides with: the other VirtualServices and its first host involved.
class Conflicts {
 public:
  explicit Conflicts(size_t n) : others_(n), first_host_(n, SIZE_MAX) {}

  void add(const ScopedHost& a, const ScopedHost& b) {
    if (a.vs == b.vs) return;
    note(a, b.vs);
    note(b, a.vs);
  }
  const std::set<size_t>& others(size_t vs) const { return others_[vs]; }
  size_t firstHost(size_t vs) const { return first_host_[vs]; }

 private:
  void note(const ScopedHost& self, size_t other) {
    others_[self.vs].insert(other);
    first_host_[self.vs] = std::min(first_host_[self.vs], self.index);
  }

  std::vector<std::set<size_t>> others_;
  std::vector<size_t> first_host_;
};

class ConflictingMeshGatewayHostsAnalyzer : public Analyzer {
 public:
  std::string_view name() const override {
    return "virtualservice.ConflictingMeshGatewayHostsAnalyzer";
  }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    std::vector<const model::VirtualService*> mesh;
    std::vector<ScopedHost> entries;
    for (const auto& vs : ctx.config().virtual_services) {
      if (!networking::appliesToMesh(vs)) continue;
      addScopedHosts(vs, mesh.size(), entries);
      mesh.push_back(&vs);
    }
    // Same scope, same host.
    std::map<std::pair<std::string, std::string>, std::vector<const ScopedHost*>> same;
    // Entries exported everywhere: by host, and the wildcard ones.
    std::unordered_map<std::string, std::vector<const ScopedHost*>> everywhere;
    std::vector<const ScopedHost*> everywhere_wildcards;
    for (const auto& e : entries) {
      same[{e.scope, e.host}].push_back(&e);
      if (e.scope != kEverywhere) continue;
      everywhere[e.host].push_back(&e);
      if (e.host.starts_with('*')) everywhere_wildcards.push_back(&e);
    }
    Conflicts conflicts(mesh.size());
    for (const auto& [key, list] : same) {
      for (size_t i = 0; i < list.size(); ++i) {
        for (size_t j = i + 1; j < list.size(); ++j) conflicts.add(*list[i], *list[j]);
      }
    }
    for (const auto& a : entries) {
      if (a.scope == kEverywhere) continue;
      if (a.host.starts_with('*')) {
        // A scoped wildcard may cover any host exported everywhere.
        for (const auto& b : entries) {
          if (b.scope == kEverywhere && model::hostMatches(a.host, b.host)) conflicts.add(a, b);
        }
        continue;
      }
      if (auto it = everywhere.find(a.host); it != everywhere.end()) {
        for (const ScopedHost* b : it->second) conflicts.add(a, *b);
      }
      for (const ScopedHost* b : everywhere_wildcards) {
        if (model::hostMatches(a.host, b->host)) conflicts.add(a, *b);
      }
    }
    for (size_t i = 0; i < mesh.size(); ++i) {
      if (conflicts.others(i).empty()) continue;
      std::string names;
      for (size_t j : conflicts.others(i)) {
        names += (names.empty() ? "" : ", ") + networking::fullName(mesh[j]->meta);
      }
      const size_t host = conflicts.firstHost(i);
      // One message per VirtualService, however many of its hosts collide.
      ctx.report(out, msg::kConflictingMeshGatewayVirtualServiceHosts, mesh[i]->meta,
                 "spec.hosts[" + std::to_string(host) + "]",
                 "VirtualService " + networking::fullName(mesh[i]->meta) + " claims host \"" +
                     mesh[i]->spec.hosts[host] + "\" for the mesh and collides with " + names +
                     "; which one sidecars use is undefined");
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeConflictingMeshGatewayHostsAnalyzer() {
  return std::make_unique<ConflictingMeshGatewayHostsAnalyzer>();
}

}  // namespace halyard::config
