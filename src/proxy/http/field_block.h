// A list of header fields in one buffer: what the request path hands an HTTP/2 upstream stream
// (pseudo-header fields first, then the rest, in order; names lowercase). Two allocations for
// the whole list rather than two per field, and cleared without giving its capacity back. Copies
// reuse the target's capacity (an HTTP/2 stream keeps a copy of its request head, in storage
// recycled from streams that ended).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace halyard::proxy::http {

class FieldBlock {
 public:
  FieldBlock() = default;
  FieldBlock(const FieldBlock& other) { *this = other; }
  FieldBlock(FieldBlock&& other) noexcept { *this = std::move(other); }
  FieldBlock& operator=(FieldBlock&& other) noexcept {
    bytes_ = std::move(other.bytes_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    entries_ = std::move(other.entries_);
    other.entries_.clear();
    return *this;
  }
  FieldBlock& operator=(const FieldBlock& other) {
    if (this == &other) return *this;
    size_ = 0;
    room(other.size_);
    if (other.size_ > 0) std::memcpy(bytes_.get(), other.bytes_.get(), other.size_);
    size_ = other.size_;
    entries_ = other.entries_;
    return *this;
  }

  void clear() {
    size_ = 0;
    entries_.clear();
  }
  // Appends one field. (The bytes are copied here, not through std::string::append: this runs
  // a dozen times per proxied HTTP/2 request.)
  void add(std::string_view name, std::string_view value) {
    const size_t at = size_;
    room(at + name.size() + value.size());
    char* p = bytes_.get() + at;
    if (!name.empty()) std::memcpy(p, name.data(), name.size());
    if (!value.empty()) std::memcpy(p + name.size(), value.data(), value.size());
    size_ = at + name.size() + value.size();
    entries_.push_back(Entry{static_cast<uint32_t>(at), static_cast<uint32_t>(name.size()),
                             static_cast<uint32_t>(value.size())});
  }
  // Room for `bytes` of names and values in `fields` fields: one allocation each.
  void reserve(size_t bytes, size_t fields) {
    room(bytes);
    entries_.reserve(fields);
  }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::string_view name(size_t i) const {
    const Entry& e = entries_[i];
    return std::string_view(bytes_.get() + e.at, e.name_size);
  }
  std::string_view value(size_t i) const {
    const Entry& e = entries_[i];
    return std::string_view(bytes_.get() + e.at + e.name_size, e.value_size);
  }

 private:
  struct Entry {
    uint32_t at;
    uint32_t name_size;
    uint32_t value_size;
  };
  // At least `bytes` of capacity, the first size_ bytes kept.
  void room(size_t bytes) {
    if (bytes <= capacity_) return;
    const size_t capacity = std::max(bytes, 2 * capacity_);
    std::unique_ptr<char[]> grown(new char[capacity]);
    if (size_ > 0) std::memcpy(grown.get(), bytes_.get(), size_);
    bytes_ = std::move(grown);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> bytes_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace halyard::proxy::http
