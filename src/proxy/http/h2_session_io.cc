#include "proxy/http/h2_session_io.h"

#include <array>

namespace halyard::proxy::http {

namespace {

bool newInEveryMessage(std::string_view name) {
  switch (name.size()) {
    case 2:
      return name == "b3";
    case 11:
      return name == "traceparent" || name == "x-b3-spanid";
    case 12:
      return name == "x-request-id" || name == "x-b3-traceid";
    case 17:
      return name == "x-b3-parentspanid";
    case 29:
      return name == "x-envoy-upstream-service-time";
    default:
      return false;
  }
}

}  // namespace

nghttp2_nv h2Field(std::string_view name, std::string_view value, bool kept) {
  uint8_t flags = newInEveryMessage(name) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
  if (kept) flags |= NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), flags};
}

std::string_view h2StatusText(uint16_t status) {
  // "100" to "999", three characters each, made once.
  static const std::array<char, 3 * 1000> kDigits = [] {
    std::array<char, 3 * 1000> d{};
    for (size_t i = 0; i < 1000; ++i) {
      d[3 * i] = static_cast<char>('0' + i / 100);
      d[3 * i + 1] = static_cast<char>('0' + i / 10 % 10);
      d[3 * i + 2] = static_cast<char>('0' + i % 10);
    }
    return d;
  }();
  if (status < 100 || status > 999) return {};
  return std::string_view(kDigits.data() + 3 * status, 3);
}

bool h2Receive(nghttp2_session* session, std::span<const uint8_t> bytes, std::string& error) {
  const ssize_t n = nghttp2_session_mem_recv(session, bytes.data(), bytes.size());
  if (n < 0) {
    error = nghttp2_strerror(static_cast<int>(n));
    return false;
  }
  return true;
}

bool h2Send(nghttp2_session* session, std::string& out, size_t max, std::string& error) {
  while (out.size() < max) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) {
      error = nghttp2_strerror(static_cast<int>(n));
      return false;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return true;
}

}  // namespace halyard::proxy::http
