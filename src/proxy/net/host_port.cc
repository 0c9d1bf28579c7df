#include "proxy/net/host_port.h"

#include <charconv>

namespace halyard::proxy::net {

using common::ErrorKind;

namespace {

// Built with append: GCC 12 warns falsely (stringop-overflow) on chained operator+ here.
common::Unexpected<common::Error> invalid(std::string_view text, std::string_view why) {
  std::string message;
  message.append("\"").append(text).append("\" ").append(why);
  return common::fail(ErrorKind::kInvalidArgument, std::move(message));
}

}  // namespace

common::Expected<uint16_t> parsePort(std::string_view text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value > 65535) {
    return invalid(text, "is not a port number (0-65535)");
  }
  return static_cast<uint16_t>(value);
}

common::Expected<HostPort> parseHostPort(std::string_view text, bool allow_zero) {
  auto bad = [&](std::string_view why) {
    return invalid(text, std::string("is not host:port (").append(why).append(")"));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address needs brackets");
  }
  if (host.empty()) return bad("no host");
  auto port = parsePort(text.substr(colon + 1));
  if (!port) return common::unexpected(port.error());
  if (*port == 0 && !allow_zero) return bad("port 0");
  return HostPort{std::string(host), *port};
}

common::Expected<std::pair<uint16_t, uint16_t>> parsePortMapping(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return invalid(text, "is not GATEWAY_PORT=LOCAL_PORT");
  }
  auto from = parsePort(text.substr(0, eq));
  if (!from) return common::unexpected(from.error());
  auto to = parsePort(text.substr(eq + 1));
  if (!to) return common::unexpected(to.error());
  return std::pair<uint16_t, uint16_t>{*from, *to};
}

}  // namespace halyard::proxy::net
