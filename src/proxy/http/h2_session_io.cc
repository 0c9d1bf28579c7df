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

}  // namespace halyard::proxy::http
