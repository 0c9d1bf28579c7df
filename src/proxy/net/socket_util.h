// Small socket helpers shared by the downstream and upstream sides.
#pragma once

#include <asio/ip/tcp.hpp>
#include <string>

namespace halyard::proxy::net {

// Disables Nagle: heads and small bodies must leave as soon as they are written.
void setNoDelay(asio::ip::tcp::socket& socket);

// Sends the ACK of what was received at once instead of delaying it (TCP_QUICKACK, which
// Linux resets by itself later; one system call). Best effort.
void ackNow(asio::ip::tcp::socket& socket);

// True when a pooled, idle connection was closed (or reset) by its peer, or has unexpected bytes
// waiting: either way it must not carry another request. A non-blocking peek, no waiting.
bool idleConnectionUnusable(asio::ip::tcp::socket& socket);

// "10.0.0.1:8080" / "[::1]:8080".
std::string formatEndpoint(const asio::ip::tcp::endpoint& endpoint);

// The address alone, "10.0.0.1" / "::1" (for x-forwarded-for).
std::string formatAddress(const asio::ip::address& address);

// Closes without throwing and without caring whether the socket was open.
void closeQuietly(asio::ip::tcp::socket& socket);

}  // namespace halyard::proxy::net
