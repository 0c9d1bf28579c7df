// The contiguous byte buffer a connection reads into. HTTP/1.1 heads must stay contiguous and
// unmoved while views into them are alive, so the buffer never moves bytes on its own: growth
// (grow) and compaction (compact) happen only when the owner says so, between the moments it
// holds views.
//
// Layout: [0, begin) consumed, [begin, end) readable, [end, capacity) writable.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace halyard::proxy::net {

class ByteBuffer {
 public:
  // The size every connection starts with (downstream and upstream alike). Storage of exactly
  // this size is kept for reuse by the thread that freed it (up to kSpareBlocks blocks): each
  // HTTP/2 stream makes two such buffers and drops them a moment later, and blocks this large
  // are the allocator's slow path. Enough for a few hundred streams in flight per thread (a
  // profile with 256 showed the slow path again at 64).
  static constexpr size_t kCommonSize = 16 * 1024;
  static constexpr size_t kSpareBlocks = 320;
  // What an HTTP/2 stream's buffers start with, on both sides: most of what they carry is a
  // small body, and a stream waiting for its response would otherwise hold a 16 KiB block
  // (whose first page is resident) in each. A read that fills one grows it (growAfterFullRead).
  static constexpr size_t kStreamSize = 1024;

  explicit ByteBuffer(size_t capacity);
  ~ByteBuffer();
  ByteBuffer(ByteBuffer&&) = default;
  ByteBuffer& operator=(ByteBuffer&&) = default;

  char* data() { return data_.get(); }
  size_t capacity() const { return capacity_; }
  size_t begin() const { return begin_; }
  size_t end() const { return end_; }

  size_t readableSize() const { return end_ - begin_; }
  std::span<char> readable() { return {data_.get() + begin_, end_ - begin_}; }
  std::string_view readableView() const { return {data_.get() + begin_, end_ - begin_}; }
  // Everything from offset 0 to end: what a head parser is fed.
  std::span<char> fromStart() { return {data_.get(), end_}; }

  std::span<char> writable() { return {data_.get() + end_, capacity_ - end_}; }
  size_t writableSize() const { return capacity_ - end_; }

  void commit(size_t n) { end_ += n; }
  void consume(size_t n) { begin_ += n; }

  // Once everything readable is consumed, reading restarts at `mark` (a position the owner still
  // needs to keep, such as the end of the current request head).
  void rewindTo(size_t mark) { begin_ = end_ = mark; }

  // Moves the readable bytes to offset 0. Invalidates views.
  void compact();

  // Enlarges to at least `capacity`, keeping the bytes at their offsets. Invalidates views.
  void grow(size_t capacity);
  // After a read: a buffer smaller than the common size that the read filled grows to it, as
  // more is likely coming (a large body on a stream's small buffer). Invalidates views.
  void growAfterFullRead() {
    if (writableSize() == 0 && capacity_ < kCommonSize) grow(kCommonSize);
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace halyard::proxy::net
