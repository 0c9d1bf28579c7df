#include "proxy/http/h2_stream_request.h"

#include <array>
#include <cstdint>
#include <random>

#include "proxy/http/h1_field_section.h"
#include "proxy/http/h1_syntax.h"
#include "proxy/http/h2_response_encoder.h"

namespace halyard::proxy::http {

namespace {

std::string randomWebSocketKey() {
  static constexpr char kBase64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  thread_local std::mt19937_64 random{std::random_device{}()};
  // 16 random bytes in base64 (RFC 6455 §4.1): 21 full sextets and 4 bits, then "==".
  std::array<uint8_t, 16> bytes{};
  for (auto& b : bytes) b = static_cast<uint8_t>(random());
  std::string key;
  for (size_t i = 0; i < 15; i += 3) {
    const uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    key.push_back(kBase64[(v >> 18) & 63]);
    key.push_back(kBase64[(v >> 12) & 63]);
    key.push_back(kBase64[(v >> 6) & 63]);
    key.push_back(kBase64[v & 63]);
  }
  key.push_back(kBase64[bytes[15] >> 2]);
  key.push_back(kBase64[(bytes[15] & 3) << 4]);
  key.append("==");
  return key;
}

}  // namespace

bool isWebSocketConnect(const H2RequestHead& head) {
  return head.method == "CONNECT" && syntax::equalsIgnoreCase(head.protocol, "websocket");
}

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
  const bool websocket = isWebSocketConnect(f);
  if (websocket) {
    bool has_key = false;
    for (const auto& h : r.headers) has_key = has_key || h.name == "sec-websocket-key";
    if (!has_key) {
      r.websocket_key = randomWebSocketKey();
      r.headers.push_back({"sec-websocket-key", r.websocket_key});
    }
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
  h.method = websocket ? std::string_view("GET") : std::string_view(f.method);
  h.target = f.path;
  h.path = f.path;
  h.authority = authority;
  h.host = authority;
  h.version = HttpVersion::kHttp11;
  h.headers = r.headers;
  h.head_bytes = 0;      // nothing of the head is in the stream's byte queue
  h.keep_alive = false;  // one request per stream
  if (websocket) {
    h.upgrade = true;
    h.upgrade_protocol = "websocket";
  }
  r.head_size = size + 2;
}

}  // namespace halyard::proxy::http
