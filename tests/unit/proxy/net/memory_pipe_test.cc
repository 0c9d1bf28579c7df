#include "proxy/net/memory_pipe.h"

#include <gtest/gtest.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <memory>
#include <string>

#include "proxy/net/transport.h"

namespace halyard::proxy::net {
namespace {

// Runs what is ready; a context that ran out of work is restarted first.
void poll(asio::io_context& io) {
  io.restart();
  io.poll();
}

// The driver's view of what the request path did.
struct RecordingDriver final : MemoryPipe::Driver {
  void onPipeRead(size_t bytes) override { read += bytes; }
  void onPipeOutput() override { ++outputs; }
  size_t read = 0;
  int outputs = 0;
};

TEST(MemoryPipe, RequestPathReadsWhatTheDriverAddedAndTheDriverHearsOfIt) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 16);
  RecordingDriver driver;
  pipe->setDriver(&driver);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  std::string got;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        std::array<char, 4> buf{};
        while (true) {
          auto [ec, n] = co_await t.readSome(asio::buffer(buf));
          if (ec) {
            EXPECT_EQ(ec, asio::error::eof);
            break;
          }
          got.append(buf.data(), n);
        }
      },
      asio::detached);
  poll(io);
  pipe->input().append("GET / HTTP/1.1\r\n");
  pipe->inputAdded();
  poll(io);
  EXPECT_EQ(got, "GET / HTTP/1.1\r\n");
  EXPECT_EQ(driver.read, 16u);
  pipe->input().append("rest");
  pipe->inputAdded();
  pipe->closeDriverSide();  // what is queued is still read, then the end
  io.restart();
  io.run();
  EXPECT_EQ(got, "GET / HTTP/1.1\r\nrest");
}

TEST(MemoryPipe, AFullQueueMakesTheWriterWaitUntilTheDriverTakesHalf) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 8);
  RecordingDriver driver;
  pipe->setDriver(&driver);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        const std::string body(20, 'x');
        auto [ec, n] = co_await t.writeAll(asio::buffer(body));
        EXPECT_FALSE(ec);
        EXPECT_EQ(n, 20u);
        done = true;
      },
      asio::detached);
  poll(io);
  EXPECT_FALSE(done);
  EXPECT_EQ(pipe->output().size(), 8u);  // the bound
  std::string taken;
  while (!done) {
    taken.append(pipe->output());
    pipe->consumeOutput(pipe->output().size());
    poll(io);
  }
  taken.append(pipe->output());
  EXPECT_EQ(taken, std::string(20, 'x'));
  EXPECT_GE(driver.outputs, 3);
  EXPECT_FALSE(pipe->outputEnded());
  t.close();
  EXPECT_TRUE(pipe->outputEnded());
  EXPECT_TRUE(pipe->requestSideClosed());
}

TEST(MemoryPipe, CancelAbortsAPendingReadAndTheDriverClosingFailsWrites) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 8);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  asio::error_code read_ec;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        std::array<char, 4> buf{};
        auto [ec, n] = co_await t.readSome(asio::buffer(buf));
        read_ec = ec;
      },
      asio::detached);
  poll(io);
  t.cancel();
  poll(io);
  EXPECT_EQ(read_ec, asio::error::operation_aborted);

  pipe->closeDriverSide();
  asio::error_code write_ec;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [ec, n] = co_await t.writeAll(asio::buffer(std::string_view("late")));
        write_ec = ec;
      },
      asio::detached);
  io.restart();
  io.run();
  EXPECT_EQ(write_ec, asio::error::broken_pipe);
}

TEST(MemoryPipe, PeekReportsInputWithoutTakingItAndTheDriverGoing) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 8);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  char byte = 0;
  asio::error_code got_ec;
  size_t got_n = 99;
  t.peek(byte, [&](const asio::error_code& ec, size_t n) {
    got_ec = ec;
    got_n = n;
  });
  poll(io);
  EXPECT_EQ(got_n, 99u);  // nothing yet
  pipe->input().append("x");
  pipe->inputAdded();
  poll(io);
  EXPECT_FALSE(got_ec);
  EXPECT_EQ(got_n, 1u);
  EXPECT_EQ(pipe->inputSize(), 1u);

  got_n = 99;
  pipe->input().clear();
  auto other = common::makeLocalShared<MemoryPipe>(io.get_executor(), 8);
  Transport t2(io.get_executor());
  t2.usePipe(other);
  t2.peek(byte, [&](const asio::error_code& ec, size_t n) {
    got_ec = ec;
    got_n = n;
  });
  other->closeDriverSide();
  poll(io);
  EXPECT_EQ(got_n, 0u);
  EXPECT_EQ(got_ec, asio::error::eof);
}

// Reads until an error; returns what was read and the error.
struct ReadAll {
  std::string got;
  asio::error_code end;
  int empty_reads = 0;  // reads that returned nothing and no error (notify())
};
void readAll(asio::io_context& io, Transport& t, ReadAll& out) {
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        std::array<char, 8> buf{};
        while (true) {
          auto [ec, n] = co_await t.readSome(asio::buffer(buf));
          if (ec) {
            out.end = ec;
            break;
          }
          if (n == 0) ++out.empty_reads;
          out.got.append(buf.data(), n);
        }
      },
      asio::detached);
}

TEST(MemoryPipe, EndedInputReadsAsEndOfStreamWhileTheDriverStays) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 16);
  RecordingDriver driver;
  pipe->setDriver(&driver);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  ReadAll r;
  readAll(io, t, r);
  pipe->input().append("body");
  pipe->inputAdded();
  pipe->endInput();
  poll(io);
  EXPECT_EQ(r.got, "body");
  EXPECT_EQ(r.end, asio::error::eof);
  EXPECT_TRUE(pipe->inputEnded());
}

TEST(MemoryPipe, ClosingAbortedWithoutEndingTheInputIsAReset) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 16);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  ReadAll r;
  readAll(io, t, r);
  pipe->input().append("part");
  pipe->inputAdded();
  pipe->closeDriverSide(true);
  poll(io);
  EXPECT_EQ(r.got, "part");  // what was queued is still read
  EXPECT_EQ(r.end, asio::error::connection_reset);
}

TEST(MemoryPipe, ClosingAbortedAfterTheInputEndedIsAnOrdinaryEnd) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 16);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  ReadAll r;
  readAll(io, t, r);
  pipe->endInput();
  pipe->closeDriverSide(true);
  poll(io);
  EXPECT_EQ(r.end, asio::error::eof);
}

TEST(MemoryPipe, NotifyWakesAReadWithNothingRead) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 16);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  ReadAll r;
  readAll(io, t, r);
  poll(io);
  pipe->notify();
  poll(io);
  EXPECT_EQ(r.empty_reads, 1);
  EXPECT_FALSE(r.end);
  pipe->closeDriverSide();
  poll(io);
  EXPECT_EQ(r.end, asio::error::eof);
}

TEST(MemoryPipe, EndedInputDoesNotFireTheClientWatch) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 16);
  int fired = 0;
  pipe->peek([&](const asio::error_code&, size_t) { ++fired; });
  pipe->endInput();
  poll(io);
  EXPECT_EQ(fired, 0);  // the request ended; the client is still there
  pipe->closeDriverSide();
  poll(io);
  EXPECT_EQ(fired, 1);
}

TEST(MemoryPipe, AResetPipeServesTheNextStreamAsANewOne) {
  asio::io_context io;
  auto pipe = common::makeLocalShared<MemoryPipe>(io.get_executor(), 16);
  {
    // A first stream: aborted by the driver after some input, closed by the request path.
    Transport t(io.get_executor());
    t.usePipe(pipe);
    ReadAll r;
    readAll(io, t, r);
    pipe->input().append("first");
    pipe->inputAdded();
    pipe->closeDriverSide(true);
    poll(io);
    EXPECT_EQ(r.end, asio::error::connection_reset);
  }
  pipe->reset();
  EXPECT_FALSE(pipe->readReady());
  EXPECT_FALSE(pipe->requestSideClosed());
  EXPECT_FALSE(pipe->outputEnded());
  EXPECT_TRUE(pipe->output().empty());
  RecordingDriver driver;
  pipe->setDriver(&driver);
  Transport t(io.get_executor());
  t.usePipe(pipe);
  ReadAll r;
  readAll(io, t, r);
  pipe->input().append("second");
  pipe->inputAdded();
  pipe->endInput();
  poll(io);
  EXPECT_EQ(r.got, "second");  // nothing of the first stream, and an ordinary end
  EXPECT_EQ(r.end, asio::error::eof);
}

}  // namespace
}  // namespace halyard::proxy::net
