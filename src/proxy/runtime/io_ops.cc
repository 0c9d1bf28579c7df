#include "proxy/runtime/io_ops.h"

#include <algorithm>

namespace halyard::proxy::runtime {

net::awaitable<IoResult> readSome(asio::ip::tcp::socket& socket, net::ByteBuffer& buffer,
                                  net::OpTimer& timer, Clock::time_point deadline, size_t max) {
  auto space = buffer.writable();
  const size_t n_max = std::min(space.size(), max);
  timer.armAt(deadline, [&socket] { cancelSocket(socket); });
  auto [ec, n] = co_await socket.async_read_some(asio::buffer(space.data(), n_max), net::kAwait);
  timer.disarm();
  if (!ec) buffer.commit(n);
  co_return IoResult{ec, n, timer.fired()};
}

}  // namespace halyard::proxy::runtime
