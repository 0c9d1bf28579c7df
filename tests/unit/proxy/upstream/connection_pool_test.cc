#include "proxy/upstream/connection_pool.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "proxy/net/awaitable.h"
#include "proxy/net/socket_util.h"

namespace halyard::proxy::upstream {
namespace {

using asio::ip::tcp;

// Runs `task` to completion on `io`.
template <class F>
void runTask(asio::io_context& io, F task) {
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await task();
        done = true;
      },
      asio::detached);
  io.run();
  io.restart();
  ASSERT_TRUE(done);
}

const TransportSettings kPlain{};

TEST(ConnectionPool, ConnectReleaseAndReuse) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket server(io);
  ConnectionPool pool(io.get_executor(), PoolOptions{});
  auto host = pool.host(acceptor.local_endpoint());
  EXPECT_EQ(pool.takeIdle(*host, kPlain), nullptr);
  runTask(io, [&]() -> asio::awaitable<void> {
    auto c = co_await pool.connect(*host, std::chrono::milliseconds(1000), kPlain);
    EXPECT_TRUE(c.ok());
    if (!c) co_return;
    co_await acceptor.async_accept(server, net::kAwait);
    pool.release(std::move(*c));
  });
  auto reused = pool.takeIdle(*host, kPlain);
  ASSERT_NE(reused, nullptr);
  pool.release(std::move(reused));
  // The upstream closes the idle connection: it is not handed out again.
  net::closeQuietly(server);
  for (int i = 0; i < 100 && !net::idleConnectionUnusable(host->idle.back()->socket()); ++i) {
    io.poll();
  }
  EXPECT_EQ(pool.takeIdle(*host, kPlain), nullptr);
  EXPECT_TRUE(host->idle.empty());
}

TEST(ConnectionPool, IdleConnectionsAreKeyedByTransportSettings) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket server(io);
  ConnectionPool pool(io.get_executor(), PoolOptions{});
  auto host = pool.host(acceptor.local_endpoint());
  runTask(io, [&]() -> asio::awaitable<void> {
    auto c = co_await pool.connect(*host, std::chrono::milliseconds(1000), kPlain);
    EXPECT_TRUE(c.ok());
    if (!c) co_return;
    co_await acceptor.async_accept(server, net::kAwait);
    pool.release(std::move(*c));
  });
  // A request whose connections must be TLS (another key) does not get the plaintext one.
  TransportSettings other;
  other.key = 42;
  EXPECT_EQ(pool.takeIdle(*host, other), nullptr);
  EXPECT_EQ(host->idle.size(), 1u);
  EXPECT_NE(pool.takeIdle(*host, kPlain), nullptr);
}

TEST(ConnectionPool, RefusedConnectNamesHostAndCause) {
  asio::io_context io;
  tcp::endpoint closed;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed = a.local_endpoint();
  }
  ConnectionPool pool(io.get_executor(), PoolOptions{});
  auto host = pool.host(closed);
  runTask(io, [&]() -> asio::awaitable<void> {
    auto c = co_await pool.connect(*host, std::chrono::milliseconds(1000), kPlain);
    EXPECT_FALSE(c.ok());
    if (c) co_return;
    EXPECT_NE(c.error().message.find(host->name), std::string::npos);
    EXPECT_NE(c.error().message.find("refused"), std::string::npos);
    EXPECT_EQ(c.error().source, common::ErrorSource::kUpstream);
  });
}

TEST(ConnectionPool, PruneForgetsUnreferencedHosts) {
  asio::io_context io;
  ConnectionPool pool(io.get_executor(), PoolOptions{});
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 9);
  std::weak_ptr<UpstreamHost> weak = pool.host(ep);
  auto kept = pool.host(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 10));
  pool.prune();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(pool.host(kept->endpoint), kept);
}

}  // namespace
}  // namespace halyard::proxy::upstream
