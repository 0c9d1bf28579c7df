// Local TCP ports for `halyard up`: whether a port is free, and handing out the ports it chooses
// (control plane, admin listeners, sidecar listeners) without giving one out twice.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "common/result.h"

namespace halyard::up {

// True when nothing listens on the port on any address (a bind to 0.0.0.0 succeeds; TIME_WAIT
// leftovers do not count).
bool portFree(uint16_t port);

class PortAllocator {
 public:
  // base 0: every port is one the kernel picks (bind to port 0). Otherwise ports are taken in
  // order from `base` upwards, skipping the ones in use, so the layout is predictable.
  explicit PortAllocator(uint16_t base) : next_(base) {}

  // Marks a port as taken (a declared app port, a gateway's local port) so it is never handed out.
  void reserve(uint16_t port) { taken_.insert(port); }
  // A free port at `base + offset` or the next free one above it (or a kernel-picked one with
  // base 0); the error says why none is available.
  common::Result<uint16_t, std::string> take(uint16_t offset = 0);

 private:
  uint16_t next_;
  std::set<uint16_t> taken_;
};

}  // namespace halyard::up
