#include "proxy/runtime/io_ops.h"

#include <algorithm>

namespace halyard::proxy::runtime {

net::awaitable<IoResult> readSome(net::Transport& transport, net::ByteBuffer& buffer,
                                  net::OpTimer& timer, Clock::time_point deadline, size_t max) {
  auto space = buffer.writable();
  const size_t n_max = std::min(space.size(), max);
  // An in-memory read with something to return completes at once: no deadline to arm.
  const bool at_once = transport.readsAtOnce();
  if (!at_once) timer.armAt(deadline, [&transport] { transport.cancel(); });
  auto [ec, n] = co_await transport.readSome(asio::buffer(space.data(), n_max));
  if (!at_once) timer.disarm();
  if (!ec) buffer.commit(n);
  co_return IoResult{ec, n, !at_once && timer.fired()};
}

}  // namespace halyard::proxy::runtime
