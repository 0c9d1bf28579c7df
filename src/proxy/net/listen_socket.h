// Listening sockets. Each worker opens its own socket on the same address and port with
// SO_REUSEPORT, so the kernel spreads new connections over the workers and no accept lock or
// cross-thread hand-off exists.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

#include "common/error.h"

namespace halyard::proxy::net {

// Binds and listens on address:port with SO_REUSEADDR, and SO_REUSEPORT when `reuse_port` (the
// workers' listeners; not the admin listener, which must fail when another process has the
// port). `address` is an IP literal ("0.0.0.0", "127.0.0.1", "::").
common::Expected<asio::ip::tcp::acceptor> openListener(asio::io_context& io,
                                                       const std::string& address, uint16_t port,
                                                       bool reuse_port = true);

// Whether address:port could be bound now, by a socket without SO_REUSEPORT (so a port another
// process listens on fails, whatever options it set): binds and closes at once, never listens.
// The error reads "cannot bind 127.0.0.1:15006: Address already in use".
common::Expected<void> checkBindable(const std::string& address, uint16_t port);

}  // namespace halyard::proxy::net
