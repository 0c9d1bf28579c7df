#include "proxy/http/h2_session_io.h"

namespace halyard::proxy::http {

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
