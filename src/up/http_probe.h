// Readiness checks on loopback, blocking and short: an HTTP GET's status (the proxies' and the
// control plane's /ready) and whether a TCP port accepts (an app is listening).
#pragma once

#include <cstdint>
#include <string>

namespace halyard::up {

// The status code of GET http://127.0.0.1:port/path, or -1 when there is no answer within
// timeout_ms.
int httpStatus(uint16_t port, const std::string& path, int timeout_ms);

// True when a connection to 127.0.0.1:port is accepted within timeout_ms.
bool tcpAccepts(uint16_t port, int timeout_ms);

}  // namespace halyard::up
