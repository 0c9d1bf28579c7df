// A list of header fields in one buffer: what the request path hands an HTTP/2 upstream stream
// (pseudo-header fields first, then the rest, in order). Two allocations for the whole list
// rather than two per field, and cleared without giving its capacity back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace halyard::proxy::http {

class FieldBlock {
 public:
  void clear() {
    bytes_.clear();
    entries_.clear();
  }
  void add(std::string_view name, std::string_view value) {
    const auto at = static_cast<uint32_t>(bytes_.size());
    bytes_.append(name).append(value);
    entries_.push_back(
        Entry{at, static_cast<uint32_t>(name.size()), static_cast<uint32_t>(value.size())});
  }
  // Room for `bytes` of names and values in `fields` fields: one allocation each.
  void reserve(size_t bytes, size_t fields) {
    bytes_.reserve(bytes);
    entries_.reserve(fields);
  }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::string_view name(size_t i) const {
    return std::string_view(bytes_).substr(entries_[i].at, entries_[i].name_size);
  }
  std::string_view value(size_t i) const {
    const Entry& e = entries_[i];
    return std::string_view(bytes_).substr(e.at + e.name_size, e.value_size);
  }

 private:
  struct Entry {
    uint32_t at;
    uint32_t name_size;
    uint32_t value_size;
  };
  std::string bytes_;
  std::vector<Entry> entries_;
};

}  // namespace halyard::proxy::http
