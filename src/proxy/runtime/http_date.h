// The Date header of local replies (RFC 9110 §6.6.1, IMF-fixdate: "Sun, 06 Nov 1994 08:49:37
// GMT"), formatted at most once per second per worker and handed out as a view.
#pragma once

#include <array>
#include <ctime>
#include <string_view>

namespace halyard::proxy::runtime {

class HttpDate {
 public:
  std::string_view now();

 private:
  std::time_t second_ = -1;
  std::array<char, 32> text_{};
  size_t size_ = 0;
};

}  // namespace halyard::proxy::runtime
