// The key a request is hashed on for loadBalancer.consistentHash, as Envoy's hash policies
// take it: a header's value, a cookie's value, the client's IP address or a query parameter's
// value. A request without the key gets no hash (the pick is then random), except for a cookie
// with a ttl: Envoy then makes up a value from the connection's addresses, hashes that, and
// issues it with Set-Cookie so the client's next requests carry it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/http/request_view.h"
#include "translate/snapshot.h"

namespace halyard::proxy::upstream {

struct RequestHash {
  std::optional<uint64_t> hash;
  std::string set_cookie;  // the Set-Cookie value to add to the response ("" none)
};

// `connection_id`: what identifies the downstream connection (its remote and local addresses),
// from which a new cookie's value is made.
RequestHash requestHash(const translate::HashPolicy& policy, const http::RequestView& request,
                        std::string_view source_ip, std::string_view connection_id);

// The value of cookie `name` in the request's Cookie headers (quotes removed), if present.
std::optional<std::string_view> findCookie(const http::RequestView& request, std::string_view name);

// The value of query parameter `name` (as sent, not decoded), if present.
std::optional<std::string_view> findQueryParameter(std::string_view query, std::string_view name);

}  // namespace halyard::proxy::upstream
