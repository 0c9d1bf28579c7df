#include "proxy/net/async_event.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <vector>

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

// The waiters woken in one turn, of one event or several, resume in the order they were woken,
// all from one operation posted to the io_context (not one each).
TEST(AsyncEvent, WaitersWokenInOneTurnResumeInOrderFromOnePostedOperation) {
  asio::io_context io;
  AsyncEvent first(io.get_executor());
  AsyncEvent second(io.get_executor());
  std::vector<int> order;
  auto waiter = [&](AsyncEvent& event, int id) {
    asio::co_spawn(
        io,
        [&event, &order, id]() -> asio::awaitable<void> {
          event.reset();
          co_await event.nextSet();
          order.push_back(id);
        },
        asio::detached);
  };
  waiter(second, 2);
  waiter(first, 1);
  poll(io);
  ASSERT_TRUE(order.empty());
  first.set();
  second.set();
  io.restart();
  EXPECT_EQ(io.run_one(), 1u);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  // A wake-up from a resumed waiter goes to a batch of its own, posted after.
  waiter(first, 3);
  poll(io);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        first.set();
        co_return;
      },
      asio::detached);
  poll(io);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace halyard::proxy::net
