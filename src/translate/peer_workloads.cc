#include "translate/peer_workloads.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "translate/model_util.h"

namespace halyard::translate {

namespace {

std::string labelOr(const std::map<std::string, std::string>& labels, const char* key,
                    const std::string& fallback) {
  const auto it = labels.find(key);
  return it == labels.end() || it->second.empty() ? fallback : it->second;
}

}  // namespace

std::shared_ptr<const PeerWorkloads> buildPeerWorkloads(const config::model::ConfigSet& config,
                                                        const std::vector<PeerWorkload>& others) {
  // (namespace, service account) -> the workload, or nullopt once a second one names the pair.
  std::map<std::pair<std::string, std::string>, std::optional<PeerWorkload>> seen;
  auto add = [&seen](const std::string& ns, const std::string& sa, const std::string& name,
                     const std::map<std::string, std::string>& labels) {
    if (sa.empty() || name.empty()) return;
    PeerWorkload w{ns,
                   sa,
                   name,
                   labelOr(labels, "app", name),
                   labelOr(labels, "version", "unknown"),
                   std::string(canonicalRevision(labels))};
    const auto [it, first] = seen.try_emplace({ns, sa}, std::move(w));
    // The same workload twice (a Pod and the WorkloadEntry of its sidecar) is still one.
    if (!first && (!it->second || it->second->workload != name)) it->second.reset();
  };
  for (const auto& pod : config.pods) {
    add(namespaceOf(pod.meta), pod.service_account.empty() ? "default" : pod.service_account,
        pod.meta.name, pod.meta.labels);
  }
  for (const auto& we : config.workload_entries) {
    add(namespaceOf(we.meta), we.spec.service_account.value_or(""), we.meta.name, we.spec.labels);
  }
  for (const auto& w : others) {
    std::map<std::string, std::string> labels;
    if (w.app != w.workload) labels["app"] = w.app;
    if (w.version != "unknown") labels["version"] = w.version;
    if (!w.revision.empty()) labels["service.istio.io/canonical-revision"] = w.revision;
    add(w.namespace_, w.service_account, w.workload, labels);
  }
  auto out = std::make_shared<PeerWorkloads>();
  for (auto& [key, w] : seen) {
    if (w) out->push_back(std::move(*w));  // the map's order is the table's
  }
  return out;
}

}  // namespace halyard::translate
