// A worker's upstream connections, per endpoint: keep-alive reuse (most recently used first,
// so the fewest connections stay warm), connect with the cluster's timeout, and the hosts
// themselves so their counters survive config reloads. Not thread-safe: one per worker.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>

#include "common/error.h"
#include "proxy/tls/client_context.h"
#include "proxy/upstream/shared_upstream.h"
#include "proxy/upstream/upstream_connection.h"
#include "proxy/upstream/upstream_host.h"
#include "translate/snapshot.h"

namespace halyard::proxy::upstream {

struct PoolOptions {
  size_t max_idle_per_host = 64;
  // An idle connection older than this is closed instead of reused: upstreams close idle
  // connections on their own schedule, and a fresh connect beats a likely-dead socket.
  std::chrono::milliseconds max_idle_time{60'000};
  // What the workers of one proxy share (circuit breakers, outlier detection); null: this
  // pool gets its own, as a lone pool in a test would.
  std::shared_ptr<SharedUpstream> shared;
};

// How connections for one request are made: plaintext, or TLS with a cluster's client context
// and the server name for this request. Connections are pooled per endpoint *and* settings: an
// idle connection is reused only by a request whose settings have the same key.
struct TransportSettings {
  const tls::ClientContext* tls = nullptr;  // null: plaintext
  std::string_view server_name;             // SNI (and, by default, the name to verify)
  uint64_t key = 0;                         // 0: plaintext
  bool h2 = false;                          // offer only "h2" by ALPN (upstream/h2_session.h)

  static TransportSettings forTls(const tls::ClientContext& context, std::string_view host) {
    TransportSettings s;
    s.tls = &context;
    s.server_name = context.serverName(host);
    s.key = tls::transportKey(context, s.server_name);
    return s;
  }
};

class ConnectionPool {
 public:
  ConnectionPool(asio::any_io_executor executor, PoolOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  SharedUpstream& shared() { return *options_.shared; }
  // This pool's registration with shared(), to leave it out of reclaimIdle().
  size_t reclaimerId() const { return reclaimer_id_; }

  // The host for an endpoint, created on first use.
  std::shared_ptr<UpstreamHost> host(const asio::ip::tcp::endpoint& endpoint);

  // An idle connection to `host` made with `settings` that is still usable, or null.
  // `policy` (a cluster's connectionPool) may shorten the idle time and the lifetime.
  std::unique_ptr<UpstreamConnection> takeIdle(
      UpstreamHost& host, const TransportSettings& settings,
      const translate::ConnectionPoolPolicy* policy = nullptr);

  // A new connection, TLS handshake included, all within `timeout`; fails with kTimeout or kIo
  // for TCP, kProtocol for TLS (the message names the host and the cause, for TLS the
  // certificate check that failed).
  asio::awaitable<common::Expected<std::unique_ptr<UpstreamConnection>>> connect(
      UpstreamHost& host, std::chrono::milliseconds timeout, const TransportSettings& settings,
      const translate::ConnectionPoolPolicy* policy = nullptr);

  // Back to the idle list after a complete exchange that left the connection reusable.
  // `policy` may say the connection has served enough requests or lived long enough; a
  // connection whose cluster has requests waiting for a slot (and none of them here) is closed
  // so that its slot goes to them.
  void release(std::unique_ptr<UpstreamConnection> connection,
               const translate::ConnectionPoolPolicy* policy = nullptr);

  // Forgets hosts no snapshot refers to any more (after a reload); closes their connections.
  void prune();
  // Closes every idle connection (drain).
  void closeIdle();

 private:
  // Closes the idle connections to `endpoints` (another worker needs their slots).
  void reclaim(const std::vector<asio::ip::tcp::endpoint>& endpoints);

  asio::any_io_executor executor_;
  PoolOptions options_;
  size_t reclaimer_id_ = 0;
  std::map<asio::ip::tcp::endpoint, std::shared_ptr<UpstreamHost>> hosts_;
};

}  // namespace halyard::proxy::upstream
