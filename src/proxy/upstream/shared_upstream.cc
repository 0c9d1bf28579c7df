#include "proxy/upstream/shared_upstream.h"

namespace halyard::proxy::upstream {

std::shared_ptr<HostHealth> ClusterState::health(const asio::ip::tcp::endpoint& endpoint) {
  std::lock_guard lock(mutex_);
  auto& slot = health_[endpoint];
  if (!slot) slot = std::make_shared<HostHealth>();
  return slot;
}

size_t ClusterState::ejectedCount(const std::vector<HostHealth*>& hosts, int64_t now_ns) const {
  size_t n = 0;
  for (const HostHealth* h : hosts) n += h->ejected(now_ns) ? 1 : 0;
  return n;
}

std::shared_ptr<ClusterState> SharedUpstream::cluster(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = clusters_[name];
  auto state = slot.lock();
  if (!state) {
    state = std::make_shared<ClusterState>();
    slot = state;
  }
  // Forget clusters no worker uses any more, whenever the map has doubled since the last sweep
  // (a sweep per lookup would make building a view of many clusters quadratic).
  if (clusters_.size() > 2 * swept_size_ + 64) {
    for (auto it = clusters_.begin(); it != clusters_.end();) {
      it = it->second.expired() ? clusters_.erase(it) : std::next(it);
    }
    swept_size_ = clusters_.size();
  }
  return state;
}

std::shared_ptr<ClusterState> SharedUpstream::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second.lock();
}

void SharedUpstream::setProxy(std::string locality, std::map<std::string, std::string> labels) {
  std::lock_guard lock(mutex_);
  locality_ = std::move(locality);
  labels_ = std::move(labels);
}

std::map<std::string, std::string> SharedUpstream::labels() const {
  std::lock_guard lock(mutex_);
  return labels_;
}

std::string SharedUpstream::locality() const {
  std::lock_guard lock(mutex_);
  return locality_;
}

size_t SharedUpstream::addReclaimer(Reclaimer reclaimer) {
  std::lock_guard lock(mutex_);
  const size_t id = next_reclaimer_++;
  reclaimers_.emplace(id, std::move(reclaimer));
  return id;
}

void SharedUpstream::removeReclaimer(size_t id) {
  std::lock_guard lock(mutex_);
  reclaimers_.erase(id);
}

void SharedUpstream::reclaimIdle(size_t except_id,
                                 const std::vector<asio::ip::tcp::endpoint>& endpoints) {
  std::lock_guard lock(mutex_);
  for (const auto& [id, reclaim] : reclaimers_) {
    if (id != except_id) reclaim(endpoints);
  }
}

}  // namespace halyard::proxy::upstream
