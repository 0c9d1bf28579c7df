#include "proxy/net/socket_util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

namespace halyard::proxy::net {

void setNoDelay(asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);  // best effort: only latency suffers
}

void ackNow(asio::ip::tcp::socket& socket) {
  const int one = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

bool idleConnectionUnusable(asio::ip::tcp::socket& socket) {
  if (!socket.is_open()) return true;
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  return true;  // 0: the peer closed; >0: bytes nobody asked for
}

std::string formatAddress(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

std::string formatEndpoint(const asio::ip::tcp::endpoint& endpoint) {
  const std::string ip = formatAddress(endpoint.address());
  const std::string port = std::to_string(endpoint.port());
  return endpoint.address().is_v6() && ip.find(':') != std::string::npos ? "[" + ip + "]:" + port
                                                                         : ip + ":" + port;
}

void closeQuietly(asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  socket.shutdown(asio::socket_base::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace halyard::proxy::net
