#include "proxy/net/async_event.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

namespace halyard::proxy::net {
namespace {

// Runs what is ready; a context that ran out of work is restarted first.
void poll(asio::io_context& io) {
  io.restart();
  io.poll();
}

// A coroutine that waits on `event` and then counts itself in `woke`.
void spawnWaiter(asio::io_context& io, AsyncEvent& event, int& woke) {
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await event.wait();
        ++woke;
      },
      asio::detached);
}

TEST(AsyncEvent, EveryWaiterWakesOnSetAndALaterWaitOnASetEventDoesNotSuspend) {
  asio::io_context io;
  AsyncEvent event(io.get_executor());
  int woke = 0;
  for (int i = 0; i < 3; ++i) spawnWaiter(io, event, woke);
  poll(io);
  EXPECT_EQ(woke, 0);
  event.set();
  poll(io);
  EXPECT_EQ(woke, 3);
  spawnWaiter(io, event, woke);
  poll(io);
  EXPECT_EQ(woke, 4);
}

// The loop the pipe and the HTTP/2 writers use: reset, one suspension, check their own
// condition again. A set() while the condition still does not hold sends the waiter back to
// sleep, and the one that makes it hold ends the loop.
TEST(AsyncEvent, NextSetSuspendsOnceForACallerThatChecksItsOwnCondition) {
  asio::io_context io;
  AsyncEvent event(io.get_executor());
  int items = 0;
  int rounds = 0;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (items < 2) {
          event.reset();
          co_await event.nextSet();
          ++rounds;
        }
        done = true;
      },
      asio::detached);
  poll(io);
  EXPECT_EQ(rounds, 0);
  ++items;
  event.set();
  poll(io);
  EXPECT_EQ(rounds, 1);
  EXPECT_FALSE(done);
  ++items;
  event.set();
  poll(io);
  EXPECT_EQ(rounds, 2);
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace halyard::proxy::net
