// The server_name extension of a ClientHello (RFC 6066 section 3), as the bytes OpenSSL hands
// the ClientHello callback: untrusted input, parsed before any certificate is chosen.
#pragma once

#include <optional>
#include <span>
#include <string>

namespace halyard::proxy::tls {

// The extension's host_name, lowercased; nullopt when the extension is malformed (its lengths
// disagree, or it names no host_name), so the caller refuses the handshake rather than guess.
std::optional<std::string> parseServerNameExtension(std::span<const unsigned char> extension);

}  // namespace halyard::proxy::tls
