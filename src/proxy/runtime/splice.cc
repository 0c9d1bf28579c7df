#include "proxy/runtime/splice.h"

#include <asio/buffer.hpp>
#include <asio/steady_timer.hpp>

#include "proxy/net/async_event.h"
#include "proxy/net/spawn.h"

namespace halyard::proxy::runtime {

namespace {

struct SpliceState {
  explicit SpliceState(const asio::any_io_executor& ex)
      : client_done(ex), upstream_done(ex), watchdog_done(ex), timer(ex) {}
  Clock::time_point last_activity = Clock::now();
  bool finished = false;
  net::AsyncEvent client_done;    // client -> upstream pump ended
  net::AsyncEvent upstream_done;  // upstream -> client pump ended
  net::AsyncEvent watchdog_done;
  asio::steady_timer timer;  // the watchdog's
  SpliceBytes bytes;
};

// Copies `from` -> `to` through `buffer` (whose readable bytes go first) until `from` ends.
net::awaitable<void> pump(net::Transport& from, net::Transport& to, net::ByteBuffer& buffer,
                          size_t mark, SpliceState& s, uint64_t& counter, net::AsyncEvent& done) {
  while (true) {
    if (buffer.readableSize() > 0) {
      auto [ec, n] = co_await to.writeAll(asio::buffer(buffer.readableView()));
      if (ec) break;
      counter += n;
      s.last_activity = Clock::now();
    }
    buffer.rewindTo(mark);
    auto [ec, n] =
        co_await from.readSome(asio::buffer(buffer.writable().data(), buffer.writable().size()));
    if (net::isEndOfStream(ec)) {
      if (to.secure()) {
        // TLS here cannot pass a half-close on (no close_notify without ending the read side
        // too): the end of one direction ends both, or the other side would never learn it.
        to.cancel();
        done.set();
        co_return;
      }
      to.shutdownSend();  // pass the end of stream on
      done.set();
      co_return;
    }
    if (ec) break;
    buffer.commit(n);
    buffer.growAfterFullRead();
    s.last_activity = Clock::now();
  }
  // An error on either side ends the whole splice.
  from.cancel();
  to.cancel();
  done.set();
}

net::awaitable<void> watchdog(net::Transport& a, net::Transport& b, SpliceState& s,
                              Clock::duration idle) {
  while (!s.finished) {
    s.timer.expires_at(s.last_activity + idle);
    co_await s.timer.async_wait(net::kAwait);
    if (s.finished) break;
    if (Clock::now() - s.last_activity >= idle) {
      a.cancel();
      b.cancel();
      break;
    }
  }
  s.watchdog_done.set();
}

}  // namespace

net::awaitable<SpliceBytes> splice(net::Transport& client, net::ByteBuffer& client_buffer,
                                   size_t client_mark, net::Transport& upstream,
                                   net::ByteBuffer& upstream_buffer, Clock::duration idle) {
  const auto executor = client.executor();
  SpliceState s(executor);
  net::spawnDetached(executor, pump(client, upstream, client_buffer, client_mark, s,
                                    s.bytes.from_client, s.client_done));
  net::spawnDetached(executor, watchdog(client, upstream, s, idle));
  co_await pump(upstream, client, upstream_buffer, 0, s, s.bytes.to_client, s.upstream_done);
  co_await s.client_done.wait();
  s.finished = true;
  s.timer.cancel();  // wakes the watchdog, which sees `finished`
  co_await s.watchdog_done.wait();
  co_return s.bytes;
}

}  // namespace halyard::proxy::runtime
