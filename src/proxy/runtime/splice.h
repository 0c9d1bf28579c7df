// Two connections joined byte for byte until both are done: what an upgraded HTTP connection
// (tunnel.h) and a TCP proxy connection (tcp_proxy.h) become. A side that ends its stream has
// its end passed on (shutdown of the other side's send direction, TCP half-close) — except to a
// TLS side, which cannot half-close here: then both directions end; an error on either side ends
// both. The idle timeout counts silence in both directions together, so a
// stream that only flows one way stays up.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy/net/awaitable.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/transport.h"
#include "proxy/runtime/io_ops.h"

namespace halyard::proxy::runtime {

struct SpliceBytes {
  uint64_t from_client = 0;  // client -> upstream
  uint64_t to_client = 0;    // upstream -> client
};

// Each buffer's readable bytes are sent to the other side first (bytes read before the splice
// began); after that each buffer is reused from its `mark` (a position whose earlier bytes the
// owner still needs, such as a logged request head).
net::awaitable<SpliceBytes> splice(net::Transport& client, net::ByteBuffer& client_buffer,
                                   size_t client_mark, net::Transport& upstream,
                                   net::ByteBuffer& upstream_buffer, Clock::duration idle);

}  // namespace halyard::proxy::runtime
