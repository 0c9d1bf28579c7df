// What one worker builds from one Snapshot, once, when the snapshot arrives: a
// VirtualHostIndex per listener and a ClusterHosts view per cluster (resolved against the
// worker's own connection pool), next to the TLS contexts the main thread built for it. Requests
// read it without locks; a request keeps the WorkerSnapshot it started with, and with it the
// Snapshot, until it finishes.
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/authn/authenticator.h"
#include "proxy/router/virtual_host_index.h"
#include "proxy/tls/tls_contexts.h"
#include "proxy/upstream/cluster_hosts.h"
#include "proxy/upstream/connection_pool.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

struct ListenerRoutes {
  const translate::Listener* listener;
  router::VirtualHostIndex index;
  const tls::ListenerTls* tls = nullptr;  // HTTPS listeners: the servers the SNI picks from
  // The listener's jwtRules compiled, with this worker's cache of verified tokens; null: none.
  std::shared_ptr<authn::Authenticator> authn;
  // Some route matches on @request.auth.claims: the token is verified before route selection.
  bool routes_use_claims = false;
};

class WorkerSnapshot {
 public:
  // `generation` numbers the snapshots of one worker (1, 2, ...), so that a connection can tell
  // whether its cached lookups are still current without holding on to an old snapshot.
  WorkerSnapshot(std::shared_ptr<const translate::Snapshot> snapshot,
                 std::shared_ptr<const tls::TlsContexts> tls, upstream::ConnectionPool& pool,
                 const asio::any_io_executor& executor, uint64_t generation);

  uint64_t generation() const { return generation_; }

  const translate::Snapshot& snapshot() const { return *snapshot_; }
  const std::shared_ptr<const translate::Snapshot>& shared() const { return snapshot_; }

  // By Listener::name; null when this snapshot has no such listener.
  const ListenerRoutes* listener(std::string_view name) const;
  // The kOutboundPort listener of a destination port ("0.0.0.0_<port>"); null when none. Found
  // per request by the outbound proxy listener, without allocating.
  const ListenerRoutes* outboundPort(uint16_t port) const;
  // The TCP services of a destination port ("0.0.0.0_<port>_tcp"); null when none. Found per
  // CONNECT tunnel.
  const ListenerRoutes* outboundTcpPort(uint16_t port) const;
  // By Cluster::name; null when the snapshot has no such cluster.
  upstream::ClusterHosts* cluster(std::string_view name) const;
  // Some listener has a protocol detection timeout (MeshConfig protocolDetectionTimeout, off by
  // default). Without one no connection waits to see whether its client stays silent, and the
  // per-connection checks (tcp_proxy.h detectsSilentClients) end here, without a lookup.
  bool detectsSilentClients() const { return detects_silent_clients_; }
  // The TLS contexts built for this snapshot (never null).
  const tls::TlsContexts& tls() const { return *tls_; }

 private:
  std::shared_ptr<const translate::Snapshot> snapshot_;
  // Kept alive with the snapshot: listeners and clusters point into it (ListenerRoutes::tls,
  // ClusterHosts::tlsContext), and handshakes in progress use its contexts.
  std::shared_ptr<const tls::TlsContexts> tls_;
  uint64_t generation_;
  bool detects_silent_clients_ = false;
  std::vector<ListenerRoutes> listeners_;
  std::unordered_map<uint16_t, const ListenerRoutes*> outbound_ports_;
  std::unordered_map<uint16_t, const ListenerRoutes*> outbound_tcp_ports_;
  // Keys view the names inside the snapshot, which this object keeps alive.
  std::unordered_map<std::string_view, std::shared_ptr<upstream::ClusterHosts>> clusters_;
};

}  // namespace halyard::proxy::runtime
