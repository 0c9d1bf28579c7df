// HPACK decoding (RFC 7541): one complete header block at a time (HEADERS and its CONTINUATION
// frames joined) into name/value views. One decoder per connection and direction; its dynamic
// table follows the peer encoder's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/result.h"
#include "proxy/http/hpack_table.h"

namespace halyard::proxy::http {

class HpackDecoder {
 public:
  static constexpr std::uint32_t kDefaultMaxListSize = 64 * 1024;
  // A check of a field's bytes by the decoder's user (HTTP/2's field rules). A field that enters
  // the dynamic table is checked once, then; when a later block refers to it by index, the
  // result comes with it (checkedFields()), so the user need not check those bytes again. A
  // proxy's blocks are mostly such references. Static table entries count as checked: the
  // check must accept them all (a unit test makes sure).
  using FieldCheck = bool (*)(std::string_view name, std::string_view value);

  // `max_table_size` is the SETTINGS_HEADER_TABLE_SIZE we announce; `max_list_size` bounds a
  // block's header list as RFC 7540 counts it (names, values and 32 per field).
  explicit HpackDecoder(std::uint32_t max_table_size = kHpackDefaultTableSize,
                        std::uint32_t max_list_size = kDefaultMaxListSize,
                        FieldCheck check = nullptr);

  // Our new SETTINGS_HEADER_TABLE_SIZE, once the peer acknowledged it. A smaller size than the
  // table's current one must be confirmed by a size update at the start of the next block.
  void setMaxTableSize(std::uint32_t max_table_size);

  // Decodes one complete header block, appending its fields to `out`. The views point into
  // `block` or into this decoder's storage, valid until the next decode() and while `block` is.
  // Errors: kOverflow when the header list is larger than the limit (the block was decoded to
  // its end, so the table is still in step: a stream error); any other kind means the block is
  // malformed and the connection must end with COMPRESSION_ERROR.
  common::Expected<void> decode(std::string_view block, std::vector<HpackField>& out);
  // After decode(): bit i is set when the i-th field it appended passed the FieldCheck (as it
  // entered the table, in this block or before, or as a static entry). Only the first 64 fields
  // are flagged; none without a check.
  std::uint64_t checkedFields() const { return checked_; }

  const HpackDynamicTable& table() const { return table_; }
  // Bytes this decoder holds, itself and on the heap.
  std::size_t memoryBytes() const {
    std::size_t n = sizeof(*this) + table_.memoryBytes() + chunks_.capacity() * sizeof(Chunk);
    for (const Chunk& c : chunks_) n += c.size;
    if (recent_) {
      n += sizeof(*recent_);
      for (const RecentString& r : *recent_) n += heapBytes(r.coded) + heapBytes(r.decoded);
    }
    return n;
  }

 private:
  HpackDynamicTable table_;
  std::uint32_t settings_max_;
  std::uint32_t max_list_size_;
  bool update_required_ = false;
  FieldCheck check_;
  std::uint64_t checked_ = 0;

  // The Huffman-coded strings of the last blocks, by their position in a block (the n-th string
  // literal), with their decoded text. Many servers send the same fields as literals on every
  // response (nginx codes `server`, `date` and `content-type` anew each time), in the same
  // order: a string coded as it was last time at its position is taken from here instead of
  // being decoded again (bench/h2_instructions.py: 1,580 instructions per proxied request).
  // Made at the first Huffman string, so an idle connection does not carry its kilobyte.
  static constexpr std::size_t kRecentStrings = 16;
  static constexpr std::size_t kMaxRecentCoded = 64;  // bytes of a coded string kept
  struct RecentString {
    std::string coded;
    std::string decoded;
  };
  std::unique_ptr<std::array<RecentString, kRecentStrings>> recent_;

  // Decoded strings and copies of dynamic-table entries for one block, in chunks that never
  // move (views into them stay valid) and are kept from block to block (the steady state
  // allocates nothing). A small first chunk covers an ordinary block; larger ones come only
  // with larger blocks. What one block may take is bounded (see decode()).
  static constexpr std::size_t kChunkSize = 1024;
  struct Chunk {
    std::unique_ptr<char[]> bytes;
    std::size_t size;
  };
  struct Mark {
    std::size_t chunk;
    std::size_t offset;
  };
  // Contiguous room for n bytes from the current position; take() then claims what was used.
  char* room(std::size_t n) {
    if (chunk_ < chunks_.size() && chunks_[chunk_].size - offset_ >= n) {
      return chunks_[chunk_].bytes.get() + offset_;
    }
    return roomElsewhere(n);
  }
  char* roomElsewhere(std::size_t n);  // the next chunk with room, or a new one
  void take(std::size_t n) { offset_ += n; }
  std::vector<Chunk> chunks_;
  // What a string holds on the heap (none while its text fits inside it).
  static std::size_t heapBytes(const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
  }
  std::size_t chunk_ = 0;
  std::size_t offset_ = 0;
};

}  // namespace halyard::proxy::http
