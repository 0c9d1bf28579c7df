// The facts a downstream connection needs about the listener that accepted it.
#pragma once

#include <cstdint>
#include <string>

#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

struct ListenerInfo {
  std::string name;             // translate::Listener::name, "0.0.0.0_80"
  std::string bind_address;     // "0.0.0.0"
  uint16_t gateway_port = 0;    // the Gateway server port routes see
  uint16_t local_port = 0;      // where it listens (--port-map)
  std::string scheme = "http";  // "https" when TLS is terminated here
  bool tls = false;             // connections start with a TLS handshake
  bool tcp = false;             // TCP / TLS passthrough: runTcpProxy, not HTTP
  translate::ListenerKind kind = translate::ListenerKind::kGateway;
};

}  // namespace halyard::proxy::runtime
