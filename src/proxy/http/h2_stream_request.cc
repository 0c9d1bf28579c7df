#include "proxy/http/h2_stream_request.h"

#include "proxy/http/h1_field_section.h"
#include "proxy/http/h2_response_encoder.h"

namespace halyard::proxy::http {

void prepareStreamRequest(H2StreamRequest& r, H2RequestHead&& fields) {
  r.fields = std::move(fields);
  const H2RequestHead& f = r.fields;
  r.cookie.clear();
  r.headers.clear();
  r.headers.reserve(f.headers.size() + 1);
  r.has_length = false;
  r.length = 0;
  std::string_view host_field;
  size_t size = f.method.size() + f.path.size() + 12;
  for (const auto& [n, v] : f.headers) {
    // "expect" has no meaning on HTTP/2 (there is no 100-continue handshake to relay).
    if (isConnectionSpecific(n) || n == "expect") continue;
    if (n == "host") {
      if (host_field.empty()) host_field = v;
      if (!f.authority.empty()) continue;  // :authority wins (RFC 9113 §8.3.1)
    }
    if (n == "cookie") {
      if (!r.cookie.empty()) r.cookie.append("; ");
      r.cookie.append(v);
      continue;
    }
    if (n == "content-length") r.has_length = parseContentLength(v, r.length);
    r.headers.push_back({n, v});
    size += n.size() + v.size() + 4;
  }
  const std::string_view authority = f.authority.empty() ? host_field : f.authority;
  if (!f.authority.empty()) {
    // As the Host field HTTP/1.1 would carry, where routing and logs look for it.
    r.headers.push_back({"host", f.authority});
    size += f.authority.size() + 8;
  }
  if (!r.cookie.empty()) {
    r.headers.push_back({"cookie", r.cookie});
    size += r.cookie.size() + 10;
  }
  RequestHead& h = r.head;
  h = RequestHead{};
  h.method = f.method;
  h.target = f.path;
  h.path = f.path;
  h.authority = authority;
  h.host = authority;
  h.version = HttpVersion::kHttp11;
  h.headers = r.headers;
  h.head_bytes = 0;      // nothing of the head is in the stream's byte queue
  h.keep_alive = false;  // one request per stream
  r.head_size = size + 2;
}

}  // namespace halyard::proxy::http
