#include "proxy/net/byte_buffer.h"

#include <array>
#include <cstring>
#include <utility>

namespace halyard::proxy::net {

namespace {

// Spare kCommonSize blocks of this thread (a worker's), freed when the thread ends.
struct SpareBlocks {
  std::array<std::unique_ptr<char[]>, ByteBuffer::kSpareBlocks> blocks;
  size_t count = 0;
};
thread_local SpareBlocks spare;

std::unique_ptr<char[]> allocate(size_t capacity) {
  if (capacity == ByteBuffer::kCommonSize && spare.count > 0) {
    return std::move(spare.blocks[--spare.count]);
  }
  return std::make_unique_for_overwrite<char[]>(capacity);
}

void release(std::unique_ptr<char[]> block, size_t capacity) {
  if (block && capacity == ByteBuffer::kCommonSize && spare.count < spare.blocks.size()) {
    spare.blocks[spare.count++] = std::move(block);
  }
}

}  // namespace

ByteBuffer::ByteBuffer(size_t capacity) : data_(allocate(capacity)), capacity_(capacity) {}

ByteBuffer::~ByteBuffer() {
  release(std::move(data_), capacity_);
}

void ByteBuffer::compact() {
  if (begin_ == 0) return;
  const size_t n = end_ - begin_;
  if (n > 0) std::memmove(data_.get(), data_.get() + begin_, n);
  begin_ = 0;
  end_ = n;
}

void ByteBuffer::grow(size_t capacity) {
  if (capacity <= capacity_) return;
  auto bigger = allocate(capacity);
  if (end_ > 0) std::memcpy(bigger.get(), data_.get(), end_);
  release(std::exchange(data_, std::move(bigger)), capacity_);
  capacity_ = capacity;
}

}  // namespace halyard::proxy::net
