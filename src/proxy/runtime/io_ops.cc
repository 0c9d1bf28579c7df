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
  auto [ec, n] = co_await transport.readSome(asio::buffer(space.data(), n_max));
  timer.disarm();
  if (!ec) buffer.commit(n);
  co_return IoResult{ec, n, timer.fired()};
}

}  // namespace halyard::proxy::runtime
