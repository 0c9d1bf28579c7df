// Parsing of the address and port flags: "127.0.0.1:15000", "[::1]:15000", and the
// "--port-map 80=8080" pairs that move a Gateway port to a local one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/error.h"

namespace halyard::proxy::net {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};

// "host:port" or "[v6]:port"; the port is 1..65535 (0 too when allow_zero).
common::Expected<HostPort> parseHostPort(std::string_view text, bool allow_zero = false);

// A decimal port 0..65535.
common::Expected<uint16_t> parsePort(std::string_view text);

// "80=8080": Gateway port 80 listens on local port 8080.
common::Expected<std::pair<uint16_t, uint16_t>> parsePortMapping(std::string_view text);

}  // namespace halyard::proxy::net
