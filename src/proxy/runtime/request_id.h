// x-request-id values: random UUID version 4 (RFC 9562 §5.4), formatted into a fixed buffer so
// generating one per request allocates nothing.
#pragma once

#include <array>
#include <string_view>

#include "proxy/upstream/fast_random.h"

namespace halyard::proxy::runtime {

class RequestId {
 public:
  static constexpr size_t kLength = 36;  // 8-4-4-4-12 hex digits

  void generate(upstream::FastRandom& random);
  std::string_view view() const { return {text_.data(), kLength}; }

 private:
  std::array<char, kLength> text_{};
};

}  // namespace halyard::proxy::runtime
