#include "up/port_allocator.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace halyard::up {
namespace {

// Listens on a kernel-picked loopback port while alive.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(PortAllocatorTest, AListenedPortIsNotFree) {
  uint16_t port;
  {
    Listener l;
    port = l.port();
    EXPECT_FALSE(portFree(port));
  }
  EXPECT_TRUE(portFree(port));
  EXPECT_FALSE(portFree(0));
}

TEST(PortAllocatorTest, KernelPickedPortsAreDistinct) {
  PortAllocator ports(0);
  auto a = ports.take(), b = ports.take();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(portFree(*a));
}

TEST(PortAllocatorTest, FromABaseSkipsTakenReservedAndBusyPorts) {
  // A base just below a busy port: base+0 is handed out, base+1 is reserved, base+2 is busy.
  // Kernel-picked ports until one has two free ports below it. Tests running in parallel bind
  // ports too: a scenario whose free port was taken by one of them before the allocator got to
  // it is set up again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::unique_ptr<Listener> busy;
    for (int i = 0; i < 50 && !busy; ++i) {
      busy = std::make_unique<Listener>();
      if (!portFree(busy->port() - 2) || !portFree(busy->port() - 1)) busy.reset();
    }
    ASSERT_TRUE(busy);
    const uint16_t base = static_cast<uint16_t>(busy->port() - 2);
    PortAllocator ports(base);
    ports.reserve(base + 1);
    const auto first = ports.take(0);
    ASSERT_TRUE(first.ok());
    if (*first != base && !portFree(base)) continue;  // someone else bound it meanwhile
    EXPECT_EQ(*first, base);
    auto next = ports.take(0);
    ASSERT_TRUE(next.ok());
    EXPECT_GT(*next, busy->port());
    EXPECT_FALSE(ports.take(static_cast<uint16_t>(65535 - base + 1)).ok());
    return;
  }
  FAIL() << "every attempt lost its free port to another process";
}

}  // namespace
}  // namespace halyard::up
