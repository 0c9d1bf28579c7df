#include "up/port_allocator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace halyard::up {

namespace {

// Binds a listening-capable socket to 0.0.0.0:port; returns the bound port, 0 when it fails.
uint16_t tryBind(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  // With SO_REUSEADDR Linux still refuses a port another socket listens on, but not one that
  // only has connections in TIME_WAIT, which the real listener would get too.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(port);
  uint16_t bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      bound = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return bound;
}

}  // namespace

bool portFree(uint16_t port) {
  return port != 0 && tryBind(port) == port;
}

common::Result<uint16_t, std::string> PortAllocator::take(uint16_t offset) {
  if (next_ == 0) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      uint16_t p = tryBind(0);
      if (p != 0 && taken_.insert(p).second) return p;
    }
    return common::unexpected(std::string("the kernel gave no free port"));
  }
  for (uint32_t p = next_ + offset; p <= 65535; ++p) {
    auto port = static_cast<uint16_t>(p);
    if (taken_.count(port) || !portFree(port)) continue;
    taken_.insert(port);
    return port;
  }
  return common::unexpected("no free port at or above " + std::to_string(next_ + offset));
}

}  // namespace halyard::up
