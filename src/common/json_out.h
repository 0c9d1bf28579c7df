// An output buffer for JSON written by hand in bulk (span batches are megabytes a second at
// 100% sampling). Unlike appending to a std::string, room is made once per item (`reserve`),
// then each piece is copied without a capacity check, and growing never zero-fills: the pieces
// of a span cost a memcpy each rather than a function call each.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "common/decimal.h"
#include "common/json_string.h"

namespace halyard::common {

class JsonOut {
 public:
  // Room for what an escaped string of `n` bytes can take, its quotes included.
  static constexpr size_t stringRoom(size_t n) { return 6 * n + 2; }
  static constexpr size_t kDecimalRoom = kMaxDecimalDigits;  // any uint64_t

  // Makes room for `n` more bytes: the put calls that follow may write that much unchecked.
  void reserve(size_t n) {
    if (capacity_ - size_ < n) grow(n);
  }
  void put(char c) { data_[size_++] = c; }
  // Most pieces are short (keys, ids, numbers, values): those are copied inline, in two
  // overlapping words, where a call to memcpy would cost more than the copy.
  [[gnu::always_inline]] void put(std::string_view s) {
    char* to = data_.get() + size_;
    const char* from = s.data();
    const size_t n = s.size();
    if (n >= 8 && n <= 16) {
      copyOverlapping<uint64_t>(to, from, n);
    } else if (n >= 4 && n < 8) {
      copyOverlapping<uint32_t>(to, from, n);
    } else if (n > 0 && n < 4) {
      to[0] = from[0];
      to[n / 2] = from[n / 2];
      to[n - 1] = from[n - 1];
    } else if (n > 16) {
      std::memcpy(to, from, n);
    }
    size_ += n;
  }
  // A quoted, escaped JSON string: needs stringRoom(v.size()).
  void putString(std::string_view v) {
    put('"');
    escapeJson(v, [this](std::string_view piece) { put(piece); });
    put('"');
  }
  // Needs kDecimalRoom.
  void putDecimal(uint64_t v) { size_ += writeDecimal(v, data_.get() + size_); }

  std::string_view view() const { return {data_.get(), size_}; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  void clear() { size_ = 0; }
  // Gives the memory back (after a burst that a quiet second does not need).
  void release() {
    data_.reset();
    size_ = capacity_ = 0;
  }

 private:
  void grow(size_t n);
  // n bytes, sizeof(Word) <= n <= 2 * sizeof(Word): the first word and the last one.
  template <class Word>
  static void copyOverlapping(char* to, const char* from, size_t n) {
    Word head;
    Word tail;
    std::memcpy(&head, from, sizeof(Word));
    std::memcpy(&tail, from + n - sizeof(Word), sizeof(Word));
    std::memcpy(to, &head, sizeof(Word));
    std::memcpy(to + n - sizeof(Word), &tail, sizeof(Word));
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace halyard::common
