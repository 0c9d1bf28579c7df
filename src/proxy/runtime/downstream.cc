#include "proxy/runtime/downstream.h"

#include "proxy/net/socket_util.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

Downstream::Downstream(Worker& w, asio::ip::tcp::socket s, std::shared_ptr<const ListenerInfo> l,
                       size_t buffer)
    : worker(w),
      transport(std::move(s)),
      listener(std::move(l)),
      in(buffer),
      parser(w.options().request_limits),
      read_timer(transport.executor()),
      write_timer(transport.executor()),
      timer(transport.executor()) {
  asio::error_code ec;
  const auto remote = transport.socket().remote_endpoint(ec);
  if (!ec) {
    remote_ip = net::formatAddress(remote.address());
    remote_endpoint = net::formatEndpoint(remote);
  }
  const auto local = transport.socket().local_endpoint(ec);
  if (!ec) local_endpoint = net::formatEndpoint(local);
  // Room for a usual request's headers and what the proxy adds. Not the maximum: an array that
  // large is past the allocator's per-thread cache, and every HTTP/2 stream makes one.
  headers.reserve(kUsualHeaders);
}

Clock::time_point Downstream::idleDeadline() const {
  return coarseNow() + worker.options().idle_timeout;
}

}  // namespace halyard::proxy::runtime
