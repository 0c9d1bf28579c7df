// Fuzzes the ClientHello server_name extension parser, which reads untrusted bytes before any
// certificate is chosen. A name it returns must lie within the input, be lowercase and hold no
// NUL; a malformed extension must be refused, never read past.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <span>

#include "proxy/tls/server_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto name = halyard::proxy::tls::parseServerNameExtension(std::span(data, size));
  if (!name) return 0;
  if (name->empty() || name->size() + 5 > size) __builtin_trap();
  for (const char c : *name) {
    if (c == '\0' || std::tolower(static_cast<unsigned char>(c)) != static_cast<unsigned char>(c)) {
      __builtin_trap();
    }
  }
  return 0;
}
