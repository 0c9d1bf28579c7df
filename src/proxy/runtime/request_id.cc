#include "proxy/runtime/request_id.h"

#include <cstdint>

namespace halyard::proxy::runtime {

void RequestId::generate(upstream::FastRandom& random) {
  uint8_t bytes[16];
  const uint64_t hi = random.next();
  const uint64_t lo = random.next();
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);  // variant 10xx
  constexpr char kHex[] = "0123456789abcdef";
  size_t out = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text_[out++] = '-';
    text_[out++] = kHex[bytes[i] >> 4];
    text_[out++] = kHex[bytes[i] & 0xf];
  }
}

}  // namespace halyard::proxy::runtime
