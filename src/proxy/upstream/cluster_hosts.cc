#include "proxy/upstream/cluster_hosts.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <cmath>

#include "proxy/net/awaitable.h"

namespace halyard::proxy::upstream {

ClusterHosts::ClusterHosts(std::shared_ptr<const translate::Cluster> cluster, ConnectionPool& pool,
                           asio::any_io_executor executor)
    : cluster_(std::move(cluster)),
      pool_(&pool),
      executor_(executor),
      first_resolution_(executor),
      state_(pool.shared().cluster(cluster_->name)) {
  if (cluster_->outlier) detector_.emplace(*cluster_->outlier, *state_, health_ptrs_);
  std::vector<std::shared_ptr<UpstreamHost>> hosts;
  std::vector<uint32_t> weights;
  std::vector<const translate::Endpoint*> endpoints;
  for (const auto& e : cluster_->endpoints) {
    asio::error_code ec;
    const auto ip = asio::ip::make_address(e.address, ec);
    if (ec) {
      // A host name: resolved by DNS even when the cluster did not ask for it, since there is
      // no other way to reach it.
      needs_dns_ = true;
      continue;
    }
    hosts.push_back(pool.host(asio::ip::tcp::endpoint(ip, e.port)));
    weights.push_back(e.weight);
    endpoints.push_back(&e);
  }
  setHosts(std::move(hosts), std::move(weights), std::move(endpoints));
  if (cluster_->resolve_dns) needs_dns_ = true;
  if (!needs_dns_) {
    resolved_once_ = true;
    first_resolution_.set();
  }
}

asio::awaitable<void> ClusterHosts::ensureResolved() {
  if (!needs_dns_) co_return;
  const bool stale = std::chrono::steady_clock::now() - resolved_at_ > kDnsRefresh;
  if (!resolving_ && (!resolved_once_ || stale)) {
    resolving_ = true;
    // The refresh keeps this view alive; a request never waits for a refresh, only for the
    // first answer.
    asio::co_spawn(
        executor_,
        [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->resolve(); },
        asio::detached);
  }
  if (!resolved_once_) co_await first_resolution_.wait();
}

asio::awaitable<void> ClusterHosts::resolve() {
  asio::ip::tcp::resolver resolver(executor_);
  std::vector<std::shared_ptr<UpstreamHost>> fresh;
  std::vector<uint32_t> weights;
  std::vector<const translate::Endpoint*> endpoints;
  std::string error;
  for (const auto& e : cluster_->endpoints) {
    auto [ec, results] = co_await resolver.async_resolve(
        e.address, std::to_string(e.port), asio::ip::tcp::resolver::numeric_service, net::kAwait);
    if (ec) {
      error = "cannot resolve " + e.address + ": " + ec.message();
      continue;
    }
    for (const auto& r : results) {
      auto host = pool_->host(r.endpoint());
      bool seen = false;
      for (const auto& h : fresh) seen = seen || h == host;
      if (!seen) {
        fresh.push_back(std::move(host));
        weights.push_back(e.weight);
        endpoints.push_back(&e);
      }
    }
  }
  // A failed refresh keeps the previous answer: a DNS hiccup should not empty a cluster.
  if (!fresh.empty() || !resolved_once_) {
    setHosts(std::move(fresh), std::move(weights), std::move(endpoints));
    resolve_error_ = hosts_.empty() ? error : std::string();
  }
  resolved_at_ = std::chrono::steady_clock::now();
  resolved_once_ = true;
  resolving_ = false;
  first_resolution_.set();
}

const translate::Endpoint* ClusterHosts::endpoint(const UpstreamHost& host) const {
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].get() == &host) return endpoints_[i];
  }
  return nullptr;
}

common::Result<TransportSettings, std::string_view> ClusterHosts::transportFor(
    const translate::Endpoint* endpoint, std::string_view request_host) const {
  if (!cluster_->tls) return TransportSettings{};
  if (cluster_->auto_mtls && (!endpoint || !endpoint->mesh_mtls)) return TransportSettings{};
  if (!tls_context_) return common::unexpected(tls_error_);
  return TransportSettings::forTls(*tls_context_, request_host);
}

void ClusterHosts::setHosts(std::vector<std::shared_ptr<UpstreamHost>> hosts,
                            std::vector<uint32_t> weights,
                            std::vector<const translate::Endpoint*> endpoints) {
  hosts_ = std::move(hosts);
  weights_ = std::move(weights);
  endpoints_ = std::move(endpoints);
  cumulative_.clear();
  current_.assign(hosts_.size(), 0);
  total_weight_ = 0;
  for (uint32_t& w : weights_) {
    if (w == 0) w = 1;  // an unset weight counts as 1
    total_weight_ += w;
    cumulative_.push_back(total_weight_);
  }
  weighted_ = false;
  for (uint32_t w : weights_) weighted_ = weighted_ || w != weights_.front();

  // Traffic policy state, rebuilt with the hosts (once per snapshot, or per DNS answer).
  health_.clear();
  health_ptrs_.clear();
  host_since_.assign(hosts_.size(), std::chrono::steady_clock::now());
  for (size_t i = 0; i < hosts_.size(); ++i) {
    // Health is shared only when outlier detection reads it (a lookup under a mutex per host).
    if (cluster_->outlier) {
      health_.push_back(state_->health(hosts_[i]->endpoint));
      health_ptrs_.push_back(health_.back().get());
    }
    host_since_[i] = hosts_[i]->created_at;
  }
  scratch_.reserve(hosts_.size());
  ring_ = HashRing();
  if (cluster_->hash && !hosts_.empty()) {
    std::vector<std::string> names;
    names.reserve(hosts_.size());
    for (const auto& h : hosts_) names.push_back(h->name);
    ring_ = cluster_->hash->maglev ? HashRing::maglev(names, weights_, cluster_->hash->table_size)
                                   : HashRing::ring(names, weights_, cluster_->hash->table_size);
  }
  locality_ = LocalityPlan();
  if (cluster_->locality_lb) {
    locality_ = planLocality(*cluster_->locality_lb, pool_->shared().locality(),
                             pool_->shared().labels(), endpoints_);
  }
  filtered_ = cluster_->outlier.has_value() || cluster_->hash.has_value() ||
              cluster_->locality_lb.has_value() || cluster_->warmup.has_value();
}

size_t ClusterHosts::indexOf(const UpstreamHost& host) const {
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].get() == &host) return i;
  }
  return hosts_.size();
}

double ClusterHosts::warmupWeight(size_t i, std::chrono::steady_clock::time_point now) const {
  const double w = weights_[i];
  if (!cluster_->warmup) return w;
  const auto& warm = *cluster_->warmup;
  const auto age = now - host_since_[i];
  if (age >= warm.duration || warm.duration.count() <= 0) return w;
  // Envoy's slow start: weight x max(minimumPercent, (age / duration) ^ (1 / aggression)).
  const double t =
      std::chrono::duration<double>(age) / std::chrono::duration<double>(warm.duration);
  const double factor =
      std::max(warm.min_percent / 100.0, std::pow(std::max(t, 0.0), 1.0 / warm.aggression));
  return w * std::min(factor, 1.0);
}

size_t ClusterHosts::nextWeightedRoundRobin() {
  size_t best = 0;
  for (size_t i = 0; i < current_.size(); ++i) {
    current_[i] += weights_[i];
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= static_cast<int64_t>(total_weight_);
  return best;
}

size_t ClusterHosts::weightedIndex(uint64_t r) const {
  const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), r);
  return it == cumulative_.end() ? cumulative_.size() - 1
                                 : static_cast<size_t>(it - cumulative_.begin());
}

}  // namespace halyard::proxy::upstream
