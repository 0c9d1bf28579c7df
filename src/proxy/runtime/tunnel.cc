#include "proxy/runtime/tunnel.h"

#include <asio/buffer.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include "proxy/net/async_event.h"
#include "proxy/runtime/spawn.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

namespace {

struct Splice {
  explicit Splice(const asio::any_io_executor& ex)
      : client_done(ex), upstream_done(ex), watchdog_done(ex), timer(ex) {}
  Clock::time_point last_activity = Clock::now();
  bool finished = false;
  net::AsyncEvent client_done;    // client -> upstream pump ended
  net::AsyncEvent upstream_done;  // upstream -> client pump ended
  net::AsyncEvent watchdog_done;
  asio::steady_timer timer;  // the watchdog's
  uint64_t from_client = 0;
  uint64_t to_client = 0;
};

// Copies `from` -> `to` through `buffer` (whose readable bytes go first) until `from` ends.
net::awaitable<void> pump(net::Transport& from, net::Transport& to, net::ByteBuffer& buffer,
                          size_t mark, Splice& s, uint64_t& counter, net::AsyncEvent& done) {
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
      to.shutdownSend();  // pass the end of stream on
      done.set();
      co_return;
    }
    if (ec) break;
    buffer.commit(n);
    s.last_activity = Clock::now();
  }
  // An error on either side ends the whole tunnel.
  from.cancel();
  to.cancel();
  done.set();
}

net::awaitable<void> watchdog(net::Transport& a, net::Transport& b, Splice& s,
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

net::awaitable<SpliceBytes> runSplice(Downstream& ds, size_t client_mark, net::Transport& upstream,
                                      net::ByteBuffer& upstream_buffer) {
  const auto executor = ds.transport.executor();
  Splice s(executor);
  spawnDetached(executor,
                pump(ds.transport, upstream, ds.in, client_mark, s, s.from_client, s.client_done));
  spawnDetached(executor, watchdog(ds.transport, upstream, s, ds.worker.options().idle_timeout));
  co_await pump(upstream, ds.transport, upstream_buffer, 0, s, s.to_client, s.upstream_done);
  co_await s.client_done.wait();
  s.finished = true;
  s.timer.cancel();  // wakes the watchdog, which sees `finished`
  co_await s.watchdog_done.wait();
  co_return SpliceBytes{s.from_client, s.to_client};
}

net::awaitable<uint64_t> runTunnel(Downstream& ds, RequestState& rq,
                                   upstream::UpstreamConnection& upstream) {
  // The upgrade request's head stays in the buffer for the log.
  const SpliceBytes bytes =
      co_await runSplice(ds, rq.head->head_bytes, upstream.transport(), upstream.buffer());
  rq.record.log.bytes_sent += bytes.to_client;
  rq.close = true;
  co_return bytes.from_client;
}

}  // namespace halyard::proxy::runtime
