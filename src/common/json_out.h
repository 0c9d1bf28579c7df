// An output buffer for JSON written by hand in bulk (span batches are megabytes a second at
// 100% sampling). Unlike appending to a std::string, room is made once per item (`reserve`),
// then each piece is copied without a capacity check, and growing never zero-fills: the pieces
// of a span cost a memcpy each rather than a function call each.
#pragma once

#include <charconv>
#include <cstring>
#include <memory>
#include <string_view>

#include "common/json_string.h"

namespace halyard::common {

class JsonOut {
 public:
  // Room for what an escaped string of `n` bytes can take, its quotes included.
  static constexpr size_t stringRoom(size_t n) { return 6 * n + 2; }
  static constexpr size_t kDecimalRoom = 20;  // any uint64_t

  // Makes room for `n` more bytes: the put calls that follow may write that much unchecked.
  void reserve(size_t n) {
    if (capacity_ - size_ < n) grow(n);
  }
  void put(char c) { data_[size_++] = c; }
  void put(std::string_view s) {
    std::memcpy(data_.get() + size_, s.data(), s.size());
    size_ += s.size();
  }
  // A quoted, escaped JSON string: needs stringRoom(v.size()).
  void putString(std::string_view v) {
    put('"');
    escapeJson(v, [this](std::string_view piece) { put(piece); });
    put('"');
  }
  // Needs kDecimalRoom.
  void putDecimal(uint64_t v) {
    size_ = static_cast<size_t>(
        std::to_chars(data_.get() + size_, data_.get() + size_ + kDecimalRoom, v).ptr -
        data_.get());
  }

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

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace halyard::common
