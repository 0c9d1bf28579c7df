// Fuzzes the ClientHello walker TLS passthrough routes with: the first bytes of a connection,
// untrusted. A name it returns must lie within the input, be lowercase and hold no NUL; a
// prefix of an input that needs more bytes must itself need more (never complete early).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <span>

#include "proxy/tls/client_hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using halyard::proxy::tls::ClientHelloSni;
  const ClientHelloSni r = halyard::proxy::tls::readClientHelloSni(std::span(data, size));
  if (r.sni) {
    if (r.status != ClientHelloSni::Status::kComplete) __builtin_trap();
    if (r.sni->empty() || r.sni->size() + 5 > size) __builtin_trap();
    for (const char c : *r.sni) {
      if (c == '\0' ||
          std::tolower(static_cast<unsigned char>(c)) != static_cast<unsigned char>(c)) {
        __builtin_trap();
      }
    }
  }
  if (r.status == ClientHelloSni::Status::kNeedMore && size > 0) {
    const ClientHelloSni shorter =
        halyard::proxy::tls::readClientHelloSni(std::span(data, size - 1));
    if (shorter.status == ClientHelloSni::Status::kComplete) __builtin_trap();
  }
  return 0;
}
