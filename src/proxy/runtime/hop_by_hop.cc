#include "proxy/runtime/hop_by_hop.h"

#include "proxy/router/string_util.h"

namespace halyard::proxy::runtime {

namespace {

// Calls f(option) for each comma-separated token of every Connection header.
template <class F>
bool anyConnectionOption(std::span<const http::HeaderView> headers, F&& f) {
  for (const auto& h : headers) {
    if (h.name != "connection") continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view token = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty() && f(token)) return true;
    }
  }
  return false;
}

}  // namespace

bool isHopByHopName(std::string_view n) {
  switch (n.size()) {
    case 2:
      return n == "te";
    case 7:
      return n == "trailer" || n == "upgrade";
    case 10:
      return n == "connection" || n == "keep-alive";
    case 14:
      return n == "content-length";
    case 16:
      return n == "proxy-connection";
    case 17:
      return n == "transfer-encoding";
    default:
      return false;
  }
}

bool namedByConnection(std::span<const http::HeaderView> headers, std::string_view lower_name) {
  return anyConnectionOption(headers, [&](std::string_view option) {
    return router::equalsIgnoreCase(option, lower_name);
  });
}

bool hasExtraConnectionOptions(std::span<const http::HeaderView> headers) {
  return anyConnectionOption(headers, [](std::string_view option) {
    return !router::equalsIgnoreCase(option, "close") &&
           !router::equalsIgnoreCase(option, "keep-alive") &&
           !router::equalsIgnoreCase(option, "upgrade");
  });
}

bool mustDrop(std::span<const http::HeaderView> headers, std::string_view lower_name,
              bool has_connection_options) {
  return isHopByHopName(lower_name) ||
         (has_connection_options && namedByConnection(headers, lower_name));
}

}  // namespace halyard::proxy::runtime
