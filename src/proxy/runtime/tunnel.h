// After "101 Switching Protocols" (WebSocket and other upgrades) the connection carries another
// protocol: the proxy splices bytes both ways until both sides are done (splice.h).
#pragma once

#include <cstdint>

#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/request_state.h"
#include "proxy/runtime/splice.h"
#include "proxy/upstream/upstream_connection.h"

namespace halyard::proxy::runtime {

// Splices the client's transport and `upstream` until both ends are done or the idle timeout
// passes. The client's unread bytes in ds.in (from `client_mark` on, already received) go
// first, then `upstream_buffer`'s readable bytes go to the client.
net::awaitable<SpliceBytes> runSplice(Downstream& ds, size_t client_mark, net::Transport& upstream,
                                      net::ByteBuffer& upstream_buffer);

// Returns the bytes received from the client (bytes sent to it are added to the record).
net::awaitable<uint64_t> runTunnel(Downstream& ds, RequestState& rq,
                                   upstream::UpstreamConnection& upstream);

}  // namespace halyard::proxy::runtime
