#include "proxy/http/h2_session_io.h"

#include <array>

namespace halyard::proxy::http {

std::string_view h2StatusText(uint16_t status) {
  // "100" to "999", three characters each, made once.
  static constexpr std::array<char, 3 * 1000> kDigits = [] {
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
