#include "proxy/runtime/worker.h"

#include <pthread.h>

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <random>

#include "common/local_shared.h"
#include "common/log.h"
#include "proxy/net/awaitable.h"
#include "proxy/net/listen_socket.h"
#include "proxy/net/spawn.h"
#include "proxy/runtime/downstream_connection.h"

namespace halyard::proxy::runtime {

namespace {

uint64_t seed(size_t index) {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ (index * 0x9e3779b97f4a7c15ull);
}

constexpr std::chrono::seconds kAccessLogFlush{1};

}  // namespace

Worker::Worker(size_t index, const RuntimeOptions& options, WorkerTelemetry telemetry)
    : index_(index),
      options_(options),
      io_(std::make_unique<asio::io_context>(1)),
      work_(io_->get_executor()),
      pool_(std::make_unique<upstream::ConnectionPool>(
          io_->get_executor(), upstream::PoolOptions{.shared = options.shared_upstream})),
      random_(seed(index)),
      telemetry_(std::move(telemetry)) {}

Worker::~Worker() {
  stop();
  // A worker that never started still holds its work guard; it must go before the io_context.
  work_.reset();
  // Teardown order matters: sockets must go before the io_context they belong to, and the
  // coroutine frames the io_context still holds reference this worker's members.
  listeners_.clear();
  snapshot_.reset();
  pool_->closeIdle();
  io_.reset();
  telemetry_.flush();
}

common::Expected<void> Worker::install(std::shared_ptr<const translate::Snapshot> snapshot,
                                       std::shared_ptr<const tls::TlsContexts> tls) {
  auto synced = syncListeners(*snapshot, true);
  if (!synced) return synced;
  snapshot_ = common::makeLocalShared<WorkerSnapshot>(std::move(snapshot), std::move(tls), *pool_,
                                                      io_->get_executor(), ++generation_);
  return common::Ok{};
}

void Worker::start() {
  started_ = true;
  for (const auto& l : listeners_) startAccepting(l);
  net::spawnDetached(io_->get_executor(), flushLoop());
  thread_ = std::thread([this] {
    // Named so that `top -H` and /proc/<pid>/task/*/comm tell the workers apart (15 bytes max).
    const std::string name = "hy-worker-" + std::to_string(index_);
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
    io_->run();
  });
}

void Worker::post(std::shared_ptr<const translate::Snapshot> snapshot,
                  std::shared_ptr<const tls::TlsContexts> tls) {
  asio::post(*io_, [this, snapshot = std::move(snapshot), tls = std::move(tls)]() mutable {
    apply(std::move(snapshot), std::move(tls));
  });
}

void Worker::apply(std::shared_ptr<const translate::Snapshot> snapshot,
                   std::shared_ptr<const tls::TlsContexts> tls) {
  if (draining_) return;
  (void)syncListeners(*snapshot, false);
  snapshot_ = common::makeLocalShared<WorkerSnapshot>(std::move(snapshot), std::move(tls), *pool_,
                                                      io_->get_executor(), ++generation_);
  pool_->prune();
}

void Worker::drain() {
  asio::post(*io_, [this] {
    if (draining_) return;
    draining_ = true;
    for (const auto& l : listeners_) {
      asio::error_code ignored;
      l->acceptor.close(ignored);
    }
    listeners_.clear();
    // Copy: closing an idle connection may untrack it while we iterate.
    const std::vector<DownstreamConnection*> all(connections_.begin(), connections_.end());
    for (DownstreamConnection* c : all) c->onDrain();
    pool_->closeIdle();
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  work_.reset();
  io_->stop();
  thread_.join();
}

void Worker::track(DownstreamConnection* connection) {
  connections_.insert(connection);
  active_connections_.store(connections_.size(), std::memory_order_relaxed);
}

void Worker::untrack(DownstreamConnection* connection) {
  connections_.erase(connection);
  active_connections_.store(connections_.size(), std::memory_order_relaxed);
}

common::Expected<void> Worker::syncListeners(const translate::Snapshot& snapshot, bool fail_fast) {
  std::vector<std::shared_ptr<ListenerSocket>> next;
  for (const auto& l : snapshot.listeners) {
    // A destination port's route table, used through the outbound proxy listener: no socket.
    if (l.kind == translate::ListenerKind::kOutboundPort) continue;
    const std::string bind = l.bind_address.empty() ? "0.0.0.0" : l.bind_address;
    const uint16_t local_port = options_.localPort(l.port);
    std::shared_ptr<ListenerSocket> found;
    for (const auto& existing : listeners_) {
      const ListenerInfo& i = *existing->info;
      if (i.name == l.name && i.bind_address == bind && i.local_port == local_port &&
          i.gateway_port == l.port && i.kind == l.kind && i.tls == !l.tls.empty() &&
          i.tcp == l.isTcp()) {
        found = existing;
      }
    }
    if (!found) {
      auto acceptor = net::openListener(*io_, bind, local_port);
      if (!acceptor) {
        const std::string message = "listener " + l.name + ": " + acceptor.error().message;
        if (fail_fast) return common::fail(acceptor.error().kind, message);
        HLOG_ERROR("worker {}: {}", index_, message);
        continue;
      }
      auto info = std::make_shared<ListenerInfo>();
      info->name = l.name;
      info->bind_address = bind;
      info->gateway_port = l.port;
      info->local_port = local_port;
      info->kind = l.kind;
      info->tls = !l.tls.empty();
      info->tcp = l.isTcp();
      info->scheme = info->tls ? "https" : "http";
      found =
          std::make_shared<ListenerSocket>(ListenerSocket{std::move(info), std::move(*acceptor)});
      if (started_) startAccepting(found);
    }
    next.push_back(std::move(found));
  }
  for (const auto& old : listeners_) {
    bool kept = false;
    for (const auto& n : next) kept = kept || n == old;
    if (!kept) {
      asio::error_code ignored;
      old->acceptor.close(ignored);
    }
  }
  listeners_ = std::move(next);
  return common::Ok{};
}

void Worker::startAccepting(const std::shared_ptr<ListenerSocket>& listener) {
  net::spawnDetached(io_->get_executor(), acceptLoop(listener));
}

asio::awaitable<void> Worker::acceptLoop(std::shared_ptr<ListenerSocket> listener) {
  asio::steady_timer backoff(*io_);
  while (listener->acceptor.is_open()) {
    auto [ec, socket] = co_await listener->acceptor.async_accept(net::kAwait);
    if (ec) {
      if (ec == asio::error::operation_aborted || !listener->acceptor.is_open()) break;
      // Out of descriptors and the like: pause instead of spinning on the error.
      HLOG_WARN("worker {}: accept on {}: {}", index_, listener->info->name, ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(net::kAwait);
      continue;
    }
    auto connection =
        common::makeLocalShared<DownstreamConnection>(*this, std::move(socket), listener->info);
    net::spawnDetached(io_->get_executor(), DownstreamConnection::run(std::move(connection)));
  }
}

asio::awaitable<void> Worker::flushLoop() {
  asio::steady_timer timer(*io_);
  while (true) {
    timer.expires_after(kAccessLogFlush);
    auto [ec] = co_await timer.async_wait(net::kAwait);
    if (ec) co_return;
    telemetry_.flush();
  }
}

}  // namespace halyard::proxy::runtime
