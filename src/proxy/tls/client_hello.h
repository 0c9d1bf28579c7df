// The SNI of a TLS ClientHello read from the raw bytes a client sent (TLS passthrough: the proxy
// routes by it without terminating TLS). Untrusted input: every length is checked against the
// bytes there are; nothing is allocated but the host name.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace halyard::proxy::tls {

struct ClientHelloSni {
  enum class Status {
    kNeedMore,  // a prefix of a ClientHello: read more (up to kMaxClientHelloBytes)
    kComplete,  // a whole ClientHello; `sni` is its server name, if it has one
    kNotTls,    // not a TLS handshake record, or a malformed ClientHello
  };
  Status status = Status::kNeedMore;
  std::optional<std::string> sni;  // lowercase
};

// A ClientHello must fit in one record of this many bytes (header included): TLS's record limit.
inline constexpr size_t kMaxClientHelloBytes = 5 + 16384;

// Walks the first TLS record of `bytes` (the connection's first bytes) to the ClientHello's
// server_name extension.
ClientHelloSni readClientHelloSni(std::span<const unsigned char> bytes);

}  // namespace halyard::proxy::tls
