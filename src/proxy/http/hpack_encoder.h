// HPACK encoding (RFC 7541) for a proxy: one encoder per connection and direction. Fields in
// the static table go out as an index; fields that repeat across requests on a connection
// (the authority, user agent, accept, the gateway's own headers, the server and content type
// of responses) enter the dynamic table the first time and go out as one or two bytes after;
// fields that are new on every request (request ids, trace ids, paths with a query, lengths)
// are sent as literals without indexing, so they do not push the repeating ones out.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/hpack_table.h"

namespace halyard::proxy::http {

class HpackEncoder {
 public:
  // `max_table_size` caps the table this encoder keeps, whatever the peer allows. The table
  // starts at the protocol's initial 4096 bytes (or the cap, if smaller, signalled in the first
  // block) and grows only when the peer's SETTINGS allow it.
  explicit HpackEncoder(std::uint32_t max_table_size = kHpackDefaultTableSize);

  // The peer's SETTINGS_HEADER_TABLE_SIZE: the table uses at most this (and at most our own
  // cap); the change is signalled at the start of the next block.
  void setPeerMaxTableSize(std::uint32_t size);

  // Appends one complete header block for `fields` to `out`.
  void encode(std::span<const HpackField> fields, std::string& out);

  // The same, field by field: beginBlock() once, then add() for each field.
  void beginBlock(std::string& out);
  void add(std::string_view name, std::string_view value, std::string& out);

  const HpackDynamicTable& table() const { return table_; }
  // Bytes this encoder holds, itself and on the heap.
  std::size_t memoryBytes() const { return sizeof(*this) + table_.memoryBytes(); }

 private:
  enum class Indexing { kIncremental, kWithout, kNever };
  char* writeSizeUpdates(char* p);
  char* writeField(char* p, std::string_view name, std::string_view value);
  static Indexing decideIndexing(std::string_view name, std::string_view value);
  // A lookup slot holds the insertion count (mod 2^32) just after its entry went in: the
  // entry's age, its position from the newest, is the count now minus that.
  std::uint32_t mark() const { return static_cast<std::uint32_t>(table_.inserted()); }
  std::uint32_t age(std::uint32_t slot_mark) const;
  bool live(std::uint32_t slot_mark) const;

  HpackDynamicTable table_;
  std::uint32_t cap_;
  std::uint32_t pending_min_ = 0;  // the smallest size set since the last block, if pending_
  bool pending_ = false;
  // Direct-mapped lookups into the dynamic table by hash: a slot marks the newest entry with
  // that hash (0: empty). Collisions and marks that wrapped around only cost a missed match; a
  // match is always confirmed by comparing bytes. 128 slots for a 4096-byte table, which holds
  // at most 128 entries and on a proxy's load a few dozen: 1 KiB per encoder.
  static constexpr std::size_t kSlots = 128;
  std::array<std::uint32_t, kSlots> by_field_{};
  std::array<std::uint32_t, kSlots> by_name_{};
  // What the field at each of the first kRecent positions of the last block matched exactly:
  // a static index, or (static 0) a dynamic entry's mark; both 0: nothing.
  static constexpr std::size_t kRecent = 32;
  std::array<std::uint8_t, kRecent> recent_static_{};
  std::array<std::uint32_t, kRecent> recent_mark_{};
  std::size_t position_ = 0;  // of the next field in the block
};

}  // namespace halyard::proxy::http
