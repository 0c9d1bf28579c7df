// Transport reads and writes bounded by a deadline, for coroutines. A deadline that passes
// cancels the transport (every pending operation on it), which is what a timeout on a proxied
// exchange should do anyway: the exchange is over.
#pragma once

#include <time.h>

#include <algorithm>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstddef>

#include "proxy/net/awaitable.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/op_timer.h"
#include "proxy/net/transport.h"

namespace halyard::proxy::runtime {

using Clock = std::chrono::steady_clock;

// Now, to within the kernel's tick (a few milliseconds; the same clock as Clock, which libstdc++
// reads as CLOCK_MONOTONIC), for deadlines of seconds such as the idle timeout, which every
// read and write of a request computes again: a coarse reading costs a fraction of a precise
// one. Never for durations that are reported.
inline Clock::time_point coarseNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

struct IoResult {
  asio::error_code ec;
  size_t bytes = 0;
  bool timed_out = false;
  bool ok() const { return !ec && !timed_out; }
  // The peer closed its side cleanly (a read of zero bytes).
  bool eof() const { return net::isEndOfStream(ec); }
};

inline void cancelSocket(asio::ip::tcp::socket& socket) {
  asio::error_code ignored;
  socket.cancel(ignored);
}
inline void cancelSocket(net::Transport& transport) {
  transport.cancel();
}

// Reads what is available (at least one byte) into buffer.writable(), at most `max` bytes.
net::awaitable<IoResult> readSome(net::Transport& transport, net::ByteBuffer& buffer,
                                  net::OpTimer& timer, Clock::time_point deadline,
                                  size_t max = static_cast<size_t>(-1));

// readSome() of an in-memory transport in parts, for a coroutine that waits in its own frame
// rather than in readSome()'s (one allocation and three resumptions fewer per wait):
//   PipeRead read(transport, timer, deadline);
//   while (read.waiting()) co_await read.next();
//   const IoResult r = read.finish(buffer);
// The deadline is armed only when the read has to wait; passing it cancels the wait, as it
// cancels readSome().
class PipeRead {
 public:
  PipeRead(net::Transport& transport, net::OpTimer& timer, Clock::time_point deadline)
      : pipe_(*transport.pipe()), timer_(timer), generation_(pipe_.cancelGeneration()) {
    if (!pipe_.readReady()) {
      armed_ = true;
      timer.armAt(deadline, [&transport] { transport.cancel(); });
    }
  }
  bool waiting() const { return !pipe_.readReady() && generation_ == pipe_.cancelGeneration(); }
  auto next() { return pipe_.nextReadable(); }
  // Reads what is available into buffer.writable(), at most `max` bytes.
  IoResult finish(net::ByteBuffer& buffer, size_t max = static_cast<size_t>(-1)) {
    if (armed_) timer_.disarm();
    auto space = buffer.writable();
    auto [ec, n] =
        pipe_.readAfterWait(asio::buffer(space.data(), std::min(space.size(), max)), generation_);
    if (!ec) buffer.commit(n);
    return IoResult{ec, n, armed_ && timer_.fired()};
  }

 private:
  net::MemoryPipe& pipe_;
  net::OpTimer& timer_;
  uint64_t generation_;
  bool armed_ = false;
};

// writeAll() of an in-memory transport that writesAtOnce(): no deadline, no coroutine frame.
template <class Buffers>
IoResult writeNow(net::Transport& transport, const Buffers& buffers) {
  auto [ec, n] = transport.writeNow(buffers);
  return IoResult{ec, n, false};
}

// Writes every byte of `buffers` (any Asio ConstBufferSequence).
template <class Buffers>
net::awaitable<IoResult> writeAll(net::Transport& transport, const Buffers& buffers,
                                  net::OpTimer& timer, Clock::time_point deadline) {
  // An in-memory write that fits completes at once: no deadline to arm (a timer armed and
  // cancelled per stream costs two reactor-lock operations).
  if (transport.writesAtOnce(asio::buffer_size(buffers))) co_return writeNow(transport, buffers);
  timer.armAt(deadline, [&transport] { transport.cancel(); });
  auto [ec, n] = co_await transport.writeAll(buffers);
  timer.disarm();
  co_return IoResult{ec, n, timer.fired()};
}

}  // namespace halyard::proxy::runtime
