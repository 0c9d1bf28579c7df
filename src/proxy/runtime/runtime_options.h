// What the runtime needs to know besides the snapshot: how many workers, where Gateway ports
// listen locally, and the connection limits and timeouts of the connection manager.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "proxy/http/h1_types.h"
#include "proxy/upstream/shared_upstream.h"

namespace halyard::proxy::runtime {

using Millis = std::chrono::milliseconds;

struct ConnectionOptions {
  // From a connection's first byte (or the first byte of a later request) to the end of the
  // request head. Bounds slow-loris clients; Envoy leaves it unset, a gateway should not.
  Millis request_headers_timeout{10'000};
  // No byte in either direction for this long: the connection (or tunnel) is closed. Also the
  // wait for the next request on a keep-alive connection.
  Millis idle_timeout{300'000};
  // TCP and TLS passthrough listeners: no byte either way for this long closes the connection
  // (Istio's default TCP idle timeout, 1 h).
  Millis tcp_idle_timeout{3'600'000};
  // TLS passthrough: the whole ClientHello must arrive within this time.
  Millis client_hello_timeout{10'000};
  // Request bodies up to this size are buffered so that a retry can replay them.
  size_t max_replay_body = 64 * 1024;
  // The x-halyard-peer value (telemetry/peer_identity.h) added to every request forwarded from a
  // gateway or outbound proxy listener; empty: none is added.
  std::string peer_header;
  // Local replies name their cause (x-halyard-reason and the body). Off: only the status text,
  // so an internet-facing gateway does not reveal cluster and host names; logs keep the cause.
  bool local_reply_reasons = true;
  http::ParserLimits request_limits;
  http::ParserLimits response_limits;
};

struct RuntimeOptions {
  size_t workers = 1;
  // Gateway port -> local port ("--port-map 80=8080"); unmapped ports listen on themselves.
  std::map<uint16_t, uint16_t> port_map;
  ConnectionOptions connection;
  // How long a drain lets in-flight requests finish before the workers stop.
  Millis drain_timeout{5'000};
  // The upstream state the workers share (circuit breakers, outlier detection); ProxyRuntime
  // makes one when none is given.
  std::shared_ptr<upstream::SharedUpstream> shared_upstream;

  uint16_t localPort(uint16_t gateway_port) const {
    auto it = port_map.find(gateway_port);
    return it == port_map.end() ? gateway_port : it->second;
  }
};

}  // namespace halyard::proxy::runtime
