#include "translate/peer_authentication.h"

#include <algorithm>
#include <optional>

#include "config/model/host_name.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

// The mode a MutualTLS block sets; nullopt for UNSET or no block (inherit from the level above).
std::optional<PeerAuthMode> modeOf(const model::MutualTLS* mtls) {
  if (!mtls || !mtls->mode) return std::nullopt;
  const std::string& m = *mtls->mode;
  if (m == "STRICT") return PeerAuthMode::kStrict;
  if (m == "PERMISSIVE") return PeerAuthMode::kPermissive;
  if (m == "DISABLE") return PeerAuthMode::kDisable;
  return std::nullopt;  // UNSET (validation refuses anything else)
}

// A policy without a selector, or with one that has no labels, covers a whole namespace (or the
// mesh, in the root namespace), as in Istio.
bool hasSelector(const model::PeerAuthentication& pa) {
  return pa.spec.selector && !pa.spec.selector->match_labels.empty();
}

std::string named(const model::PeerAuthentication& pa) {
  return "PeerAuthentication " + namespaceOf(pa.meta) + "/" + pa.meta.name;
}

}  // namespace

PeerAuthenticationIndex::PeerAuthenticationIndex(const model::ConfigSet& config,
                                                 std::string root_namespace)
    : root_namespace_(std::move(root_namespace)) {
  for (const auto& pa : config.peer_authentications) {
    by_namespace_[namespaceOf(pa.meta)].push_back(&pa);
  }
  for (auto& [ns, list] : by_namespace_) {
    std::stable_sort(list.begin(), list.end(),
                     [](const auto* a, const auto* b) { return createdBefore(a->meta, b->meta); });
  }
}

InboundMtls PeerAuthenticationIndex::effective(std::string_view namespace_,
                                               const std::map<std::string, std::string>& labels,
                                               uint16_t port) const {
  auto policiesOf =
      [this](std::string_view ns) -> const std::vector<const model::PeerAuthentication*>& {
    static const std::vector<const model::PeerAuthentication*> kNone;
    auto it = by_namespace_.find(ns);
    return it == by_namespace_.end() ? kNone : it->second;
  };
  // The oldest policy of each level (the lists are oldest first).
  const model::PeerAuthentication* mesh = nullptr;
  for (const auto* pa : policiesOf(root_namespace_)) {
    if (!hasSelector(*pa)) {
      mesh = pa;
      break;
    }
  }
  const model::PeerAuthentication* namespace_level = nullptr;
  const model::PeerAuthentication* workload = nullptr;
  // In the root namespace a selector-less policy is the mesh's, and selector policies are
  // ignored (Istio's code and the proto's example note agree; the selector's doc does not).
  if (namespace_ != root_namespace_) {
    for (const auto* pa : policiesOf(namespace_)) {
      if (!hasSelector(*pa)) {
        if (!namespace_level) namespace_level = pa;
      } else if (!workload && model::selectorMatches(pa->spec.selector->match_labels, labels)) {
        workload = pa;
      }
    }
  }

  InboundMtls out;
  out.mode = PeerAuthMode::kPermissive;
  out.origin = mesh || namespace_level || workload ? "default (no PeerAuthentication sets a mode)"
                                                   : "default (no PeerAuthentication applies)";
  auto apply = [&out](const model::PeerAuthentication* pa, const char* level) {
    if (!pa) return;
    if (auto mode = modeOf(pa->spec.mtls ? &*pa->spec.mtls : nullptr)) {
      out.mode = *mode;
      out.origin = named(*pa) + " (" + level + ")";
    }
  };
  apply(mesh, "mesh");
  apply(namespace_level, "namespace");
  apply(workload, "workload");
  if (workload) {
    // An UNSET entry inherits the workload's mode: nothing to change.
    auto it = workload->spec.port_level_mtls.find(std::to_string(port));
    if (it != workload->spec.port_level_mtls.end()) {
      if (auto mode = modeOf(&it->second)) {
        out.mode = *mode;
        out.origin = named(*workload) + " (workload, port " + std::to_string(port) + ")";
      }
    }
  }
  return out;
}

}  // namespace halyard::translate
