// After "101 Switching Protocols" (WebSocket and other upgrades) the connection carries another
// protocol: the proxy splices bytes both ways until both sides are done. A side that ends its
// stream has its end passed on (shutdown of the other side's send direction); an error on either
// side ends both. The idle timeout counts silence in both directions together, so a stream that
// only flows one way stays up.
#pragma once

#include <cstdint>

#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/request_state.h"
#include "proxy/upstream/upstream_connection.h"

namespace halyard::proxy::runtime {

// Bytes a splice carried each way.
struct SpliceBytes {
  uint64_t from_client = 0;
  uint64_t to_client = 0;
};

// Splices the client's transport and `upstream` until both ends are done or the idle timeout
// passes. The client's unread bytes in ds.in (from `client_mark` on, already received) go
// first, then `upstream_buffer`'s readable bytes go to the client.
net::awaitable<SpliceBytes> runSplice(Downstream& ds, size_t client_mark, net::Transport& upstream,
                                      net::ByteBuffer& upstream_buffer);

// Returns the bytes received from the client (bytes sent to it are added to the record).
net::awaitable<uint64_t> runTunnel(Downstream& ds, RequestState& rq,
                                   upstream::UpstreamConnection& upstream);

}  // namespace halyard::proxy::runtime
