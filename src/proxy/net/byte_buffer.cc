#include "proxy/net/byte_buffer.h"

#include <cstring>

namespace halyard::proxy::net {

ByteBuffer::ByteBuffer(size_t capacity)
    : data_(std::make_unique_for_overwrite<char[]>(capacity)), capacity_(capacity) {}

void ByteBuffer::compact() {
  if (begin_ == 0) return;
  const size_t n = end_ - begin_;
  if (n > 0) std::memmove(data_.get(), data_.get() + begin_, n);
  begin_ = 0;
  end_ = n;
}

void ByteBuffer::grow(size_t capacity) {
  if (capacity <= capacity_) return;
  auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
  if (end_ > 0) std::memcpy(bigger.get(), data_.get(), end_);
  data_ = std::move(bigger);
  capacity_ = capacity;
}

}  // namespace halyard::proxy::net
