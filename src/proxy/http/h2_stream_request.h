// A request that arrived as an HTTP/2 stream, given to the request path as the same RequestHead
// the HTTP/1.1 parser produces: the stream's fields are kept as HTTP/2 delivered them and the
// head's views point into them. Nothing is serialized as HTTP/1.1 text or parsed again.
//
// HTTP/2 has validated the fields already (names lowercase, no CR, LF or NUL, a well-formed
// :path and content-length); what HTTP/1.1 has and HTTP/2 forbids (connection-specific fields)
// is left out, and cookie crumbs are joined into one field as RFC 9113 §8.2.3 says.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "proxy/http/h1_request_parser.h"
#include "proxy/http/h2_server_session.h"

namespace halyard::proxy::http {

struct H2StreamRequest {
  H2RequestHead fields;  // owns the bytes `head` views
  std::string cookie;    // the crumbs, joined
  std::vector<HeaderView> headers;
  RequestHead head;
  // The size of the head as HTTP/1.1 would carry it, for the request-size metrics and logs.
  size_t head_size = 0;
  // The content-length field the client sent, if any (validated by HTTP/2).
  bool has_length = false;
  uint64_t length = 0;
  // Extended CONNECT (RFC 8441, `:protocol websocket`): the request path sees the HTTP/1.1
  // upgrade it stands for (GET with Upgrade), and the Sec-WebSocket-Key an HTTP/1.1 WebSocket
  // server needs, which HTTP/2 clients do not send.
  std::string websocket_key;
};

// True for an extended CONNECT this proxy serves: `:protocol websocket`.
bool isWebSocketConnect(const H2RequestHead& head);

// Moves `fields` in and builds `request.head` over it. The head's framing is left to the caller
// (it depends on how the stream's DATA arrives). The request must stay where it is afterwards:
// the head's views point into its strings.
void prepareStreamRequest(H2StreamRequest& request, H2RequestHead&& fields);

}  // namespace halyard::proxy::http
