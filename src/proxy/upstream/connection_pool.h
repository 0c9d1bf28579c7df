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
#include "proxy/upstream/upstream_connection.h"
#include "proxy/upstream/upstream_host.h"

namespace halyard::proxy::upstream {

struct PoolOptions {
  size_t max_idle_per_host = 64;
  // An idle connection older than this is closed instead of reused: upstreams close idle
  // connections on their own schedule, and a fresh connect beats a likely-dead socket.
  std::chrono::milliseconds max_idle_time{60'000};
};

class ConnectionPool {
 public:
  ConnectionPool(asio::any_io_executor executor, PoolOptions options);

  // The host for an endpoint, created on first use.
  std::shared_ptr<UpstreamHost> host(const asio::ip::tcp::endpoint& endpoint);

  // An idle connection to `host` that is still usable, or null.
  std::unique_ptr<UpstreamConnection> takeIdle(UpstreamHost& host);

  // A new connection; fails with kTimeout or kIo (the message names the host and the cause).
  asio::awaitable<common::Expected<std::unique_ptr<UpstreamConnection>>> connect(
      UpstreamHost& host, std::chrono::milliseconds timeout);

  // Back to the idle list after a complete exchange that left the connection reusable.
  void release(std::unique_ptr<UpstreamConnection> connection);

  // Forgets hosts no snapshot refers to any more (after a reload); closes their connections.
  void prune();
  // Closes every idle connection (drain).
  void closeIdle();

 private:
  asio::any_io_executor executor_;
  PoolOptions options_;
  std::map<asio::ip::tcp::endpoint, std::shared_ptr<UpstreamHost>> hosts_;
};

}  // namespace halyard::proxy::upstream
