// After "101 Switching Protocols" (WebSocket and other upgrades) the connection carries another
// protocol: the proxy splices bytes both ways until both sides are done (splice.h).
#pragma once

#include <cstdint>

#include "proxy/net/awaitable.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/request_state.h"
#include "proxy/upstream/upstream_connection.h"

namespace halyard::proxy::runtime {

// Returns the bytes received from the client (bytes sent to it are added to the record).
net::awaitable<uint64_t> runTunnel(Downstream& ds, RequestState& rq,
                                   upstream::UpstreamConnection& upstream);

}  // namespace halyard::proxy::runtime
