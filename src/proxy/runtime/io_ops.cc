#include "proxy/runtime/io_ops.h"

#include <algorithm>

namespace halyard::proxy::runtime {

net::awaitable<IoResult> readSome(net::Transport& transport, net::ByteBuffer& buffer,
                                  net::OpTimer& timer, Clock::time_point deadline, size_t max) {
  auto space = buffer.writable();
  const size_t n_max = std::min(space.size(), max);
  // An in-memory read with something to return completes at once: no deadline to arm, and no
  // frame for the pipe's readSome().
  if (transport.readsAtOnce()) {
    auto [ec, n] = transport.readNow(asio::buffer(space.data(), n_max));
    if (!ec) buffer.commit(n);
    co_return IoResult{ec, n, false};
  }
  timer.armAt(deadline, [&transport] { transport.cancel(); });
  if (net::MemoryPipe* pipe = transport.pipe().get()) {
    // The pipe's own wait, without its readSome()'s frame (a deadline cancels it as it would).
    const uint64_t generation = pipe->cancelGeneration();
    while (!pipe->readReady() && generation == pipe->cancelGeneration()) {
      co_await pipe->nextReadable();
    }
    timer.disarm();
    auto [ec, n] = pipe->readAfterWait(asio::buffer(space.data(), n_max), generation);
    if (!ec) buffer.commit(n);
    co_return IoResult{ec, n, timer.fired()};
  }
  auto [ec, n] = co_await transport.readSome(asio::buffer(space.data(), n_max));
  timer.disarm();
  if (!ec) buffer.commit(n);
  co_return IoResult{ec, n, timer.fired()};
}

}  // namespace halyard::proxy::runtime
