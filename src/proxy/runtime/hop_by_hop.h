// Which header fields a proxy must not forward (RFC 9110 §7.6.1): the connection-specific ones,
// the framing ones the proxy regenerates for the next hop, and every field a Connection header
// names. Both directions use it.
#pragma once

#include <span>
#include <string_view>

#include "proxy/http/request_view.h"

namespace halyard::proxy::runtime {

// connection, keep-alive, proxy-connection, te, trailer, transfer-encoding, upgrade,
// content-length (lowercase names, as the codec gives them).
bool isHopByHopName(std::string_view lower_name);

// True when `lower_name` appears as an option of some Connection header in `headers`.
bool namedByConnection(std::span<const http::HeaderView> headers, std::string_view lower_name);

// The two together: the field must not be forwarded. `has_connection_options`: some Connection
// header lists an option other than close/keep-alive/upgrade (rare, so the scan is skipped
// otherwise).
bool mustDrop(std::span<const http::HeaderView> headers, std::string_view lower_name,
              bool has_connection_options);

// True when some Connection header lists an option beyond close, keep-alive and upgrade.
bool hasExtraConnectionOptions(std::span<const http::HeaderView> headers);

}  // namespace halyard::proxy::runtime
