#include "proxy/runtime/io_ops.h"

#include <algorithm>

namespace halyard::proxy::runtime {

net::awaitable<IoResult> readSome(net::Transport& transport, net::ByteBuffer& buffer,
                                  net::OpTimer& timer, Clock::time_point deadline, size_t max) {
  if (transport.inMemory()) {
    // The pipe's own wait, without its readSome()'s frame; one with something to return
    // completes at once, with no deadline armed.
    PipeRead read(transport, timer, deadline);
    while (read.waiting()) co_await read.next();
    co_return read.finish(buffer, max);
  }
  auto space = buffer.writable();
  timer.armAt(deadline, [&transport] { transport.cancel(); });
  auto [ec, n] =
      co_await transport.readSome(asio::buffer(space.data(), std::min(space.size(), max)));
  timer.disarm();
  if (!ec) buffer.commit(n);
  co_return IoResult{ec, n, timer.fired()};
}

}  // namespace halyard::proxy::runtime
