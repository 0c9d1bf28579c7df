#include "translate/peer_workloads.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "translate/model_util.h"

namespace halyard::translate {

PeerWorkload peerWorkload(const std::string& namespace_, const std::string& service_account,
                          const std::string& workload,
                          const std::map<std::string, std::string>& labels) {
  WorkloadNames names = workloadNames(labels, workload);
  return PeerWorkload{namespace_,
                      service_account,
                      workload,
                      std::move(names.app),
                      std::move(names.version),
                      std::move(names.canonical_revision),
                      std::move(names.canonical_service)};
}

std::shared_ptr<const PeerWorkloads> buildPeerWorkloads(const config::model::ConfigSet& config,
                                                        const std::vector<PeerWorkload>& others) {
  // (namespace, service account) -> the workload, or nullopt once a second one names the pair.
  std::map<std::pair<std::string, std::string>, std::optional<PeerWorkload>> seen;
  auto add = [&seen](PeerWorkload w) {
    if (w.service_account.empty() || w.workload.empty()) return;
    const auto [it, first] =
        seen.try_emplace({w.namespace_, w.service_account}, std::optional<PeerWorkload>());
    if (first) {
      it->second = std::move(w);
    } else if (!it->second || it->second->workload != w.workload) {
      // The same workload twice (a Pod and the WorkloadEntry of its sidecar) is still one.
      it->second.reset();
    }
  };
  for (const auto& pod : config.pods) {
    add(peerWorkload(namespaceOf(pod.meta),
                     pod.service_account.empty() ? "default" : pod.service_account, pod.meta.name,
                     pod.meta.labels));
  }
  for (const auto& we : config.workload_entries) {
    add(peerWorkload(namespaceOf(we.meta), we.spec.service_account.value_or(""), we.meta.name,
                     we.spec.labels));
  }
  for (const auto& w : others) add(w);
  auto out = std::make_shared<PeerWorkloads>();
  for (auto& [key, w] : seen) {
    if (w) out->push_back(std::move(*w));  // the map's order is the table's
  }
  return out;
}

}  // namespace halyard::translate
