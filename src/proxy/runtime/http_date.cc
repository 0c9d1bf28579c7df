#include "proxy/runtime/http_date.h"

namespace halyard::proxy::runtime {

std::string_view HttpDate::now() {
  const std::time_t t = std::time(nullptr);
  if (t != second_) {
    second_ = t;
    std::tm tm{};
    gmtime_r(&t, &tm);
    // strftime's %a and %b follow the C locale, which the process never changes.
    size_ = std::strftime(text_.data(), text_.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return {text_.data(), size_};
}

}  // namespace halyard::proxy::runtime
