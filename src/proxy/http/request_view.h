// What routing sees of a request: read-only views into the codec's buffer. The router never
// mutates a request; it returns decisions (rewrites, header operations) that the connection
// manager applies when it writes the upstream request. Keeping this small and view-based is
// what lets the HTTP/1.1 codec stay zero-copy.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace halyard::proxy::http {

struct HeaderView {
  std::string_view name;   // lowercase (the codec lowercases names in place)
  std::string_view value;  // surrounding whitespace trimmed
};

struct RequestView {
  std::string_view method;     // "GET"
  std::string_view path;       // as received, query string included: "/a/b?x=1"
  std::string_view authority;  // Host header (or absolute-form authority), port included if sent
  std::string_view scheme;     // "http" or "https" (of the downstream connection)
  uint16_t listener_port = 0;  // the Gateway server port this request arrived on (not the
                               // local port from --port-map)
  std::span<const HeaderView> headers;
  // The verified JWT (RequestAuthentication) for @request.auth.claims route matches; null: the
  // request carries none. `claim` appends the values of a '\0'-separated claim path.
  const void* auth = nullptr;
  void (*claim)(const void* auth, std::string_view path, std::vector<std::string>& out) = nullptr;

  // First header with this lowercase name.
  std::optional<std::string_view> header(std::string_view lower_name) const {
    for (const auto& h : headers) {
      if (h.name == lower_name) return h.value;
    }
    return std::nullopt;
  }
  // The path without its query string.
  std::string_view pathOnly() const {
    auto q = path.find('?');
    return q == std::string_view::npos ? path : path.substr(0, q);
  }
  std::string_view query() const {
    auto q = path.find('?');
    return q == std::string_view::npos ? std::string_view{} : path.substr(q + 1);
  }
};

}  // namespace halyard::proxy::http
