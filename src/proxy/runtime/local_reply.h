// Responses the proxy generates itself: errors (with their Envoy response flag recorded by the
// caller), redirects, direct responses and CORS preflights. Every one carries
// `x-halyard-reason: <sentence naming the cause>`; error replies also carry that sentence as a
// short text body, so a curl user sees why without looking at headers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/request_view.h"
#include "proxy/http/response_encoder.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

struct LocalReply {
  uint16_t status = 503;
  std::string_view reason;    // x-halyard-reason
  bool reason_header = true;  // false: no x-halyard-reason (the body says only the status text)
  // The body: `body` as given, or the reason and a newline when reason_body is set.
  bool reason_body = true;
  std::string_view body;
  std::string_view content_type = "text/plain";
  std::span<const std::pair<std::string, std::string>> headers;  // Location, CORS, ...
  const translate::HeaderOps* route_ops = nullptr;  // route-level response header operations
  bool head_request = false;                        // HEAD: Content-Length of the body, but no body
  bool close = false;                               // "Connection: close"
  bool http10_keep_alive = false;  // an HTTP/1.0 client keeping the connection open
  std::string_view date;           // the Date header; none when empty
};

// Appends the whole response (head and body) to `out`, encoded by the client's codec; `scratch`
// is reused header storage.
void appendLocalReply(std::string& out, const LocalReply& reply,
                      std::vector<http::HeaderView>& scratch, http::ResponseEncoder& encoder);

}  // namespace halyard::proxy::runtime
