#include "proxy/tls/server_name.h"

#include <cctype>
#include <cstddef>

namespace halyard::proxy::tls {

namespace {

constexpr unsigned char kHostName = 0;  // NameType host_name

size_t readLength(std::span<const unsigned char> bytes, size_t at) {
  return (size_t{bytes[at]} << 8) | bytes[at + 1];
}

}  // namespace

std::optional<std::string> parseServerNameExtension(std::span<const unsigned char> extension) {
  // ServerNameList: a 2-byte length, then entries of NameType (1 byte) and a 2-byte length.
  if (extension.size() < 2 || readLength(extension, 0) != extension.size() - 2) {
    return std::nullopt;
  }
  for (size_t at = 2; at < extension.size();) {
    if (extension.size() - at < 3) return std::nullopt;
    const unsigned char type = extension[at];
    const size_t length = readLength(extension, at + 1);
    at += 3;
    if (length > extension.size() - at) return std::nullopt;
    if (type == kHostName) {
      if (length == 0) return std::nullopt;
      std::string name(reinterpret_cast<const char*>(extension.data() + at), length);
      for (char& c : name) {
        if (c == '\0') return std::nullopt;  // no host name holds a NUL
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return name;
    }
    at += length;
  }
  return std::nullopt;
}

}  // namespace halyard::proxy::tls
