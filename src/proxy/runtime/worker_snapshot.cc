#include "proxy/runtime/worker_snapshot.h"

namespace halyard::proxy::runtime {

WorkerSnapshot::WorkerSnapshot(std::shared_ptr<const translate::Snapshot> snapshot,
                               std::shared_ptr<const tls::TlsContexts> tls,
                               upstream::ConnectionPool& pool,
                               const asio::any_io_executor& executor, uint64_t generation)
    : snapshot_(std::move(snapshot)), tls_(std::move(tls)), generation_(generation) {
  if (!tls_) tls_ = std::make_shared<const tls::TlsContexts>();
  static const auto kNoRoutes = std::make_shared<const translate::RouteTable>();
  listeners_.reserve(snapshot_->listeners.size());
  for (const auto& l : snapshot_->listeners) {
    if (l.protocol_detection_timeout.count() > 0) detects_silent_clients_ = true;
    listeners_.push_back(ListenerRoutes{
        &l, router::VirtualHostIndex(l.routes ? l.routes : kNoRoutes), tls_->listener(l.name)});
    if (!l.jwt_rules.empty()) {
      listeners_.back().authn = std::make_shared<authn::Authenticator>(l.jwt_rules);
      listeners_.back().routes_use_claims = l.routes && router::usesClaims(*l.routes);
    }
  }
  // After the vector is complete: the map points into it.
  for (const auto& l : listeners_) {
    if (l.listener->kind != translate::ListenerKind::kOutboundPort) continue;
    (l.listener->isTcp() ? outbound_tcp_ports_ : outbound_ports_).emplace(l.listener->port, &l);
  }
  clusters_.reserve(snapshot_->clusters.size());
  for (const auto& [name, cluster] : snapshot_->clusters) {
    // Aliasing pointer: the view keeps the whole snapshot alive, for background DNS refreshes.
    std::shared_ptr<const translate::Cluster> c(snapshot_, &cluster);
    auto hosts = std::make_shared<upstream::ClusterHosts>(std::move(c), pool, executor);
    if (cluster.tls) hosts->setTls(tls_->cluster(name), tls_->clusterError(name));
    clusters_.emplace(std::string_view(name), std::move(hosts));
  }
}

const ListenerRoutes* WorkerSnapshot::listener(std::string_view name) const {
  for (const auto& l : listeners_) {
    if (l.listener->name == name) return &l;
  }
  return nullptr;
}

const ListenerRoutes* WorkerSnapshot::outboundPort(uint16_t port) const {
  auto it = outbound_ports_.find(port);
  return it == outbound_ports_.end() ? nullptr : it->second;
}

const ListenerRoutes* WorkerSnapshot::outboundTcpPort(uint16_t port) const {
  auto it = outbound_tcp_ports_.find(port);
  return it == outbound_tcp_ports_.end() ? nullptr : it->second;
}

upstream::ClusterHosts* WorkerSnapshot::cluster(std::string_view name) const {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second.get();
}

}  // namespace halyard::proxy::runtime
