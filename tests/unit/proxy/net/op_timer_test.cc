#include "proxy/net/op_timer.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <chrono>

namespace halyard::proxy::net {
namespace {

using namespace std::chrono_literals;
using Clock = OpTimer::Clock;

void runFor(asio::io_context& io, Clock::duration d) {
  io.restart();
  io.run_for(d);
}

TEST(OpTimer, FiresOnceTheArmedDeadlinePassesAndNotAfterDisarm) {
  asio::io_context io;
  OpTimer timer(io.get_executor());
  int expired = 0;
  timer.arm(10ms, [&] { ++expired; });
  runFor(io, 50ms);
  EXPECT_EQ(expired, 1);
  EXPECT_TRUE(timer.fired());

  timer.arm(10ms, [&] { ++expired; });
  timer.disarm();
  runFor(io, 50ms);
  EXPECT_EQ(expired, 1);
  EXPECT_FALSE(timer.fired());
}

TEST(OpTimer, AWaitThatEndsBeforeALaterDeadlineWaitsOnForTheRest) {
  asio::io_context io;
  OpTimer timer(io.get_executor());
  int expired = 0;
  timer.arm(20ms, [&] { ++expired; });
  timer.disarm();
  timer.arm(80ms, [&] { ++expired; });  // the pending 20 ms wait is kept, then extended
  runFor(io, 40ms);
  EXPECT_EQ(expired, 0);
  EXPECT_FALSE(timer.fired());
  runFor(io, 100ms);
  EXPECT_EQ(expired, 1);
  EXPECT_TRUE(timer.fired());
}

TEST(OpTimer, AnEarlierDeadlineThanThePendingWaitIsHonoured) {
  asio::io_context io;
  OpTimer timer(io.get_executor());
  int expired = 0;
  timer.arm(10s, [&] { ++expired; });
  timer.disarm();
  const auto start = Clock::now();
  timer.arm(10ms, [&] { ++expired; });
  runFor(io, 200ms);
  EXPECT_EQ(expired, 1);
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(OpTimer, NothingRunsOnceTheOwnerIsGone) {
  asio::io_context io;
  int expired = 0;
  {
    OpTimer timer(io.get_executor());
    timer.arm(5ms, [&] { ++expired; });
  }
  runFor(io, 30ms);
  EXPECT_EQ(expired, 0);
}

}  // namespace
}  // namespace halyard::proxy::net
