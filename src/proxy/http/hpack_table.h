// HPACK's indexing tables (RFC 7541 section 2.3): the static table of 61 fields and a dynamic
// table, a FIFO of recently indexed fields bounded by a size in octets (each entry counts its
// name and value plus 32). Index 1 is the first static entry; index 62 the newest dynamic one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace halyard::proxy::http {

struct HpackField {
  std::string_view name;
  std::string_view value;
};

inline constexpr std::size_t kHpackStaticEntries = 61;
inline constexpr std::size_t kHpackEntryOverhead = 32;
inline constexpr std::uint32_t kHpackDefaultTableSize = 4096;

// The static table entry at `index` (1..61).
const HpackField& hpackStaticEntry(std::size_t index);

// Where a field is found in the static table: `index` names an entry with the same name (0 if
// none); `exact` says whether its value matches too.
// Whether two byte ranges of length `n` are equal; inline, for the short strings of header
// fields, where a call to memcmp costs more than the comparison.
inline bool hpackSameBytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8) {
    // Whole words, then the last eight bytes (overlapping the words before when n is not a
    // multiple of eight).
    std::uint64_t x;
    std::uint64_t y;
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      __builtin_memcpy(&x, a + i, 8);
      __builtin_memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    __builtin_memcpy(&x, a + n - 8, 8);
    __builtin_memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    std::uint32_t x0, y0, x1, y1;
    __builtin_memcpy(&x0, a, 4);
    __builtin_memcpy(&y0, b, 4);
    __builtin_memcpy(&x1, a + n - 4, 4);
    __builtin_memcpy(&y1, b + n - 4, 4);
    return x0 == y0 && x1 == y1;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}
inline bool hpackSame(std::string_view a, std::string_view b) {
  return a.size() == b.size() && hpackSameBytes(a.data(), b.data(), a.size());
}

struct HpackStaticMatch {
  std::uint8_t index = 0;
  bool exact = false;
};
HpackStaticMatch hpackStaticFind(std::string_view name, std::string_view value);

// The dynamic table. Entries' bytes live in one buffer of at most twice the maximum size: new
// bytes are appended, and when they would not fit, the live bytes (never more than the maximum
// size) move to the front, into a larger buffer while they fill more than half of it. Nothing
// is allocated before the first insertion, nor once the buffer has grown to what the
// connection's fields need; the ring of entries likewise grows with their number. Views
// returned by entry() stay valid until the next add().
class HpackDynamicTable {
 public:
  explicit HpackDynamicTable(std::uint32_t max_size = kHpackDefaultTableSize);

  // Entries, newest first: entry(0) is index 62. An entry's value follows its name in memory.
  std::size_t count() const { return count_; }
  HpackField entry(std::size_t i) const;
  // Counts insertions ever made: the entry with sequence number s is entry(inserted() - 1 - s)
  // while s >= inserted() - count(). The encoder's lookup remembers entries by it.
  std::uint64_t inserted() const { return inserted_; }

  std::uint32_t size() const { return size_; }  // in HPACK octets (bytes + 32 per entry)
  std::uint32_t maxSize() const { return max_size_; }

  // Evicts until the table fits `max_size`, which becomes the limit.
  void setMaxSize(std::uint32_t max_size);
  // Evicts what it must and inserts; a field larger than the maximum size empties the table and
  // is not inserted (section 4.4). `checked`: the field passed its user's field check (see
  // HpackDecoder), remembered with the entry.
  void add(std::string_view name, std::string_view value, bool checked = false);
  // Whether entry(i) was added as checked.
  bool checked(std::size_t i) const { return (slot(i).value_len & kCheckedBit) != 0; }
  // Evicts every entry.
  void clear();
  // Bytes held on the heap.
  std::size_t memoryBytes() const { return bytes_.capacity() + slots_.capacity() * sizeof(Slot); }

 private:
  // The top bit of a slot's value_len holds its entry's `checked` flag: a value is never that
  // long (the table's maximum size bounds its entries, and it never exceeds our 4 KiB).
  static constexpr std::uint32_t kCheckedBit = 1u << 31;
  struct Slot {
    std::uint64_t at;  // logical position of the name's first byte; the value follows
    std::uint32_t name_len;
    std::uint32_t value_len;  // with kCheckedBit
    std::uint32_t valueLen() const { return value_len & ~kCheckedBit; }
  };
  void evictOldest();
  void makeRoom(std::size_t len);  // makes `len` bytes fit after end_
  void resizeSlots(std::size_t n);
  const Slot& slot(std::size_t i) const {  // i from the newest
    return slots_[(head_ + slots_.size() - 1 - i) % slots_.size()];
  }

  std::vector<char> bytes_;
  std::uint64_t base_ = 0;   // logical position of bytes_[0]
  std::uint64_t end_ = 0;    // logical position after the newest entry's bytes
  std::vector<Slot> slots_;  // ring; head_ is where the next entry goes
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint64_t inserted_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t max_size_;
};

}  // namespace halyard::proxy::http
