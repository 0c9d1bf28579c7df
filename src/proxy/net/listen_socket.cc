#include "proxy/net/listen_socket.h"

#include <sys/socket.h>

namespace halyard::proxy::net {

namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

common::Unexpected<common::Error> ioError(const std::string& what, const std::string& address,
                                          uint16_t port, const asio::error_code& ec) {
  return common::fail(common::ErrorKind::kIo,
                      what + " " + address + ":" + std::to_string(port) + ": " + ec.message());
}

// An acceptor bound to address:port with SO_REUSEADDR (and SO_REUSEPORT when asked), not yet
// listening.
common::Expected<asio::ip::tcp::acceptor> bindAcceptor(asio::io_context& io,
                                                       const std::string& address, uint16_t port,
                                                       bool reuse_port) {
  asio::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address, ec);
  if (ec) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "listener address \"" + address + "\" is not an IP address");
  }
  const asio::ip::tcp::endpoint endpoint(ip, port);
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return ioError("cannot open", address, port, ec);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) acceptor.set_option(ReusePort(true), ec);
  if (ec) return ioError("cannot set SO_REUSEPORT on", address, port, ec);
  acceptor.bind(endpoint, ec);
  if (ec) return ioError("cannot bind", address, port, ec);
  return acceptor;
}

}  // namespace

common::Expected<asio::ip::tcp::acceptor> openListener(asio::io_context& io,
                                                       const std::string& address, uint16_t port,
                                                       bool reuse_port) {
  auto acceptor = bindAcceptor(io, address, port, reuse_port);
  if (!acceptor) return acceptor;
  asio::error_code ec;
  acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ioError("cannot listen on", address, port, ec);
  return acceptor;
}

common::Expected<void> checkBindable(const std::string& address, uint16_t port) {
  asio::io_context io;
  auto acceptor = bindAcceptor(io, address, port, false);
  if (!acceptor) return common::unexpected(acceptor.error());
  return common::Ok{};
}

}  // namespace halyard::proxy::net
