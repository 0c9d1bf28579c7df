#include "proxy/runtime/tunnel.h"

#include "proxy/runtime/splice.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

net::awaitable<SpliceBytes> runSplice(Downstream& ds, size_t client_mark, net::Transport& upstream,
                                      net::ByteBuffer& upstream_buffer) {
  co_return co_await splice(ds.transport, ds.in, client_mark, upstream, upstream_buffer,
                            ds.worker.options().idle_timeout);
}

net::awaitable<uint64_t> runTunnel(Downstream& ds, RequestState& rq,
                                   upstream::UpstreamConnection& upstream) {
  // The upgrade request's head stays in the buffer, for the log.
  const SpliceBytes bytes =
      co_await splice(ds.transport, ds.in, rq.head->head_bytes, upstream.transport(),
                      upstream.buffer(), ds.worker.options().idle_timeout);
  rq.record.log.bytes_sent += bytes.to_client;
  rq.close = true;
  co_return bytes.from_client;
}

}  // namespace halyard::proxy::runtime
