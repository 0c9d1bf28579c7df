// Fuzzes the path normalization every request's path goes through before routing and
// authorization. A normalized path must be normal: normalizing it again changes nothing, it
// keeps the input's query, and it holds no dot segment or backslash before the query.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/path_normalizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using halyard::proxy::http::normalizePath;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string once;
  if (!normalizePath(input, once)) return 0;
  std::string twice;
  if (normalizePath(once, twice)) __builtin_trap();  // not idempotent
  const size_t q = input.find('?');
  if (q != std::string_view::npos && !std::string_view(once).ends_with(input.substr(q))) {
    __builtin_trap();  // the query changed
  }
  const std::string_view path = std::string_view(once).substr(0, once.find('?'));
  if (path.starts_with('/') &&
      (path.find("/./") != std::string_view::npos || path.find("/../") != std::string_view::npos ||
       path.ends_with("/.") || path.ends_with("/..") || path.find('\\') != std::string_view::npos)) {
    __builtin_trap();
  }
  return 0;
}
