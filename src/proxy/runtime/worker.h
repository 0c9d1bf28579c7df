// One worker: a thread running its own io_context, its own listening sockets (SO_REUSEPORT),
// its connections, its upstream connection pool and its copy of the per-snapshot indexes.
// Nothing on the request path is shared with other workers.
//
// Thread rules: the constructor, openListeners() and start() run on the main thread before the
// worker thread exists; post(), drain(), stop() and activeConnections() may be called from any
// thread; everything else runs on the worker thread only.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "common/local_shared.h"
#include "proxy/runtime/http_date.h"
#include "proxy/runtime/listener_info.h"
#include "proxy/runtime/runtime_options.h"
#include "proxy/runtime/worker_snapshot.h"
#include "proxy/runtime/worker_telemetry.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/fast_random.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

class DownstreamConnection;

class Worker {
 public:
  Worker(size_t index, const RuntimeOptions& options, WorkerTelemetry telemetry);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Main thread, before start(): opens a socket for every listener of the snapshot and installs
  // it, so that a port that cannot be bound fails the startup.
  common::Expected<void> install(std::shared_ptr<const translate::Snapshot> snapshot,
                                 std::shared_ptr<const tls::TlsContexts> tls);
  void start();

  // Any thread. A new snapshot for this worker: indexes are rebuilt on the worker thread,
  // listeners opened and closed to match; requests in flight keep their snapshot.
  // `tls` are the snapshot's TLS contexts, built once for all workers.
  void post(std::shared_ptr<const translate::Snapshot> snapshot,
            std::shared_ptr<const tls::TlsContexts> tls);
  // Any thread. Stops accepting, closes idle keep-alive connections and lets every request in
  // flight finish; each connection closes after its current response.
  void drain();
  // Any thread. Stops the event loop (connections are dropped) and joins the thread.
  void stop();
  size_t activeConnections() const { return active_connections_.load(std::memory_order_relaxed); }

  // ---- worker thread ----
  size_t index() const { return index_; }
  asio::io_context& io() { return *io_; }
  const common::LocalShared<const WorkerSnapshot>& snapshot() const { return snapshot_; }
  const ConnectionOptions& options() const { return options_.connection; }
  upstream::ConnectionPool& pool() { return *pool_; }
  upstream::FastRandom& random() { return random_; }
  WorkerTelemetry& telemetry() { return telemetry_; }
  HttpDate& date() { return date_; }
  bool draining() const { return draining_; }

  void track(DownstreamConnection* connection);
  void untrack(DownstreamConnection* connection);

 private:
  struct ListenerSocket {
    std::shared_ptr<const ListenerInfo> info;
    asio::ip::tcp::acceptor acceptor;
  };

  void apply(std::shared_ptr<const translate::Snapshot> snapshot,
             std::shared_ptr<const tls::TlsContexts> tls);
  // Opens missing listeners, closes the ones the snapshot no longer has. `fail_fast`: stop at
  // (and return) the first error instead of logging it.
  common::Expected<void> syncListeners(const translate::Snapshot& snapshot, bool fail_fast);
  void startAccepting(const std::shared_ptr<ListenerSocket>& listener);
  asio::awaitable<void> acceptLoop(std::shared_ptr<ListenerSocket> listener);
  asio::awaitable<void> flushLoop();

  size_t index_;
  const RuntimeOptions& options_;
  std::unique_ptr<asio::io_context> io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<upstream::ConnectionPool> pool_;
  upstream::FastRandom random_;
  WorkerTelemetry telemetry_;
  HttpDate date_;
  common::LocalShared<const WorkerSnapshot> snapshot_;
  uint64_t generation_ = 0;
  std::vector<std::shared_ptr<ListenerSocket>> listeners_;
  std::unordered_set<DownstreamConnection*> connections_;
  std::atomic<size_t> active_connections_{0};
  bool draining_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace halyard::proxy::runtime
