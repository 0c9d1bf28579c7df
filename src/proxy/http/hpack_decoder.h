// HPACK decoding (RFC 7541): one complete header block at a time (HEADERS and its CONTINUATION
// frames joined) into name/value views. One decoder per connection and direction; its dynamic
// table follows the peer encoder's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/result.h"
#include "proxy/http/hpack_table.h"

namespace halyard::proxy::http {

class HpackDecoder {
 public:
  static constexpr std::uint32_t kDefaultMaxListSize = 64 * 1024;

  // `max_table_size` is the SETTINGS_HEADER_TABLE_SIZE we announce; `max_list_size` bounds a
  // block's header list as RFC 7540 counts it (names, values and 32 per field).
  explicit HpackDecoder(std::uint32_t max_table_size = kHpackDefaultTableSize,
                        std::uint32_t max_list_size = kDefaultMaxListSize);

  // Our new SETTINGS_HEADER_TABLE_SIZE, once the peer acknowledged it. A smaller size than the
  // table's current one must be confirmed by a size update at the start of the next block.
  void setMaxTableSize(std::uint32_t max_table_size);

  // Decodes one complete header block, appending its fields to `out`. The views point into
  // `block` or into this decoder's storage, valid until the next decode() and while `block` is.
  // Errors: kOverflow when the header list is larger than the limit (the block was decoded to
  // its end, so the table is still in step: a stream error); any other kind means the block is
  // malformed and the connection must end with COMPRESSION_ERROR.
  common::Expected<void> decode(std::string_view block, std::vector<HpackField>& out);

  const HpackDynamicTable& table() const { return table_; }
  // Bytes this decoder holds, itself and on the heap.
  std::size_t memoryBytes() const {
    std::size_t n = sizeof(*this) + table_.memoryBytes() + chunks_.capacity() * sizeof(Chunk);
    for (const Chunk& c : chunks_) n += c.size;
    return n;
  }

 private:
  HpackDynamicTable table_;
  std::uint32_t settings_max_;
  std::uint32_t max_list_size_;
  bool update_required_ = false;

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
  std::size_t chunk_ = 0;
  std::size_t offset_ = 0;
};

}  // namespace halyard::proxy::http
