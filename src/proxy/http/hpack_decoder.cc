#include "proxy/http/hpack_decoder.h"

#include <cstring>
#include <string>

#include "proxy/http/hpack_huffman.h"

namespace halyard::proxy::http {
namespace {

using common::ErrorKind;

enum class IntStatus { kOk, kTruncated, kTooLarge };

// An integer with an N-bit prefix (section 5.1). Values above 2^32 - 1 are refused: no length,
// index or size HPACK carries comes near that, and the check keeps the shifts defined.
inline IntStatus readInt(const unsigned char*& p, const unsigned char* end, int prefix_bits,
                         std::uint32_t& value) {
  const std::uint32_t mask = (1u << prefix_bits) - 1;
  std::uint32_t v = *p++ & mask;
  if (v < mask) {
    value = v;
    return IntStatus::kOk;
  }
  std::uint64_t total = v;
  for (int shift = 0;; shift += 7) {
    if (p == end) return IntStatus::kTruncated;
    unsigned char b = *p++;
    if (shift > 28) return IntStatus::kTooLarge;
    total += static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (total > 0xffffffffu) return IntStatus::kTooLarge;
    if ((b & 0x80) == 0) break;
  }
  value = static_cast<std::uint32_t>(total);
  return IntStatus::kOk;
}

common::Unexpected<common::Error> intError(IntStatus s, const char* what) {
  if (s == IntStatus::kTruncated) {
    return common::fail(ErrorKind::kProtocol, std::string("the header block ends inside the ") +
                                                  what + "; expected its remaining bytes");
  }
  return common::fail(ErrorKind::kProtocol, std::string("the header block's ") + what +
                                                " is larger than 2^32 - 1; expected a value that "
                                                "fits in 32 bits");
}

}  // namespace

HpackDecoder::HpackDecoder(std::uint32_t max_table_size, std::uint32_t max_list_size,
                           FieldCheck check)
    : table_(max_table_size),
      settings_max_(max_table_size),
      max_list_size_(max_list_size),
      check_(check) {}

char* HpackDecoder::roomElsewhere(std::size_t n) {
  for (; chunk_ < chunks_.size(); ++chunk_, offset_ = 0) {
    if (chunks_[chunk_].size - offset_ >= n) return chunks_[chunk_].bytes.get() + offset_;
  }
  std::size_t size = n > kChunkSize ? n : kChunkSize;
  chunks_.push_back({std::unique_ptr<char[]>(new char[size]), size});
  offset_ = 0;
  return chunks_.back().bytes.get();
}

void HpackDecoder::setMaxTableSize(std::uint32_t max_table_size) {
  if (max_table_size < table_.maxSize()) update_required_ = true;
  settings_max_ = max_table_size;
}

common::Expected<void> HpackDecoder::decode(std::string_view block, std::vector<HpackField>& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());
  const auto* end = p + block.size();
  // What the block may take of the chunks: the list limit plus the table's size. Fields within
  // the limit keep their bytes (`kept` counts them); once the list is over the limit, later
  // fields are still decoded (their insertions keep the table in step) but into scratch that
  // the next field reuses. `kept` never exceeds the list limit, so at least the table's size
  // remains for a field: enough for any field that can be inserted. A Huffman string that does
  // not fit what remains is larger than the table, so it is not inserted, and it overflows the
  // list.
  const std::size_t budget = std::size_t{max_list_size_} + settings_max_;
  std::size_t kept = 0;
  std::size_t list_size = 0;
  bool over = false;
  bool fields_seen = false;
  chunk_ = 0;
  offset_ = 0;
  checked_ = 0;
  const std::size_t first = out.size();
  // Flags the field just appended as checked.
  auto flag = [&] {
    if (std::size_t i = out.size() - 1 - first; i < 64) checked_ |= std::uint64_t{1} << i;
  };

  // A string literal (section 5.2) at `p`: a view into the block, or the decoded text in the
  // chunks; `taken` counts the field's bytes there. `huge` is set when the decoded text does
  // not fit the budget (and, set already, makes it skip the string).
  std::size_t string_index = 0;  // of the block's string literals, for recent_
  auto readString = [&](std::string_view& s, std::size_t& taken,
                        bool& huge) -> common::Expected<void> {
    if (p == end) {
      return common::fail(ErrorKind::kProtocol,
                          "the header block ends where a string literal was expected");
    }
    bool huffman = (*p & 0x80) != 0;
    std::uint32_t len;
    if (IntStatus st = readInt(p, end, 7, len); st != IntStatus::kOk) {
      return intError(st, "string length");
    }
    if (len > static_cast<std::size_t>(end - p)) {
      return common::fail(ErrorKind::kProtocol, "a string literal claims " + std::to_string(len) +
                                                    " bytes but only " + std::to_string(end - p) +
                                                    " remain in the header block");
    }
    std::string_view coded(reinterpret_cast<const char*>(p), len);
    p += len;
    const std::size_t position = string_index++;
    if (huge) return {};  // the name did not fit already: the field is only skipped
    if (!huffman) {
      s = coded;
      return {};
    }
    std::size_t left = budget - kept - taken;
    RecentString* recent = nullptr;
    if (position < kRecentStrings && len <= kMaxRecentCoded) {
      if (!recent_) recent_ = std::make_unique<std::array<RecentString, kRecentStrings>>();
      recent = &(*recent_)[position];
    }
    if (recent && hpackSame(recent->coded, coded)) {
      // Coded as last time here. (Its view stays valid until the next block: only a later
      // decode() replaces the entry.)
      if (recent->decoded.size() > left) {
        huge = true;
        s = {};
        return {};
      }
      s = recent->decoded;
      return {};
    }
    // At most one byte per 5 bits (the shortest code), within what the budget leaves.
    std::size_t cap = std::size_t{len} * 8 / 5;
    if (cap > left) cap = left;
    char* at = room(cap);
    auto n = huffmanDecode(coded, at, cap);
    if (!n) {
      if (n.error().kind != ErrorKind::kOverflow) return common::unexpected(n.error());
      huge = true;
      s = {};
      return {};
    }
    s = {at, *n};
    take(*n);
    taken += *n;
    if (recent) {
      recent->coded.assign(coded);
      recent->decoded.assign(s);
    }
    return {};
  };

  // Counts a field against the list limit; true if it may be appended to `out`.
  auto admit = [&](std::size_t name_len, std::size_t value_len) {
    list_size += name_len + value_len + kHpackEntryOverhead;
    if (list_size > max_list_size_) over = true;
    return !over;
  };

  while (p != end) {
    unsigned char b = *p;
    if (b & 0x80) {
      // Indexed field (section 6.1).
      std::uint32_t index;
      if (IntStatus st = readInt(p, end, 7, index); st != IntStatus::kOk) {
        return intError(st, "index of an indexed field");
      }
      if (update_required_) {
        return common::fail(ErrorKind::kProtocol,
                            "the header block starts with a field, but the table size was "
                            "lowered and a dynamic table size update must come first");
      }
      fields_seen = true;
      if (index == 0) {
        return common::fail(ErrorKind::kProtocol,
                            "an indexed field has index 0; expected an index from 1");
      }
      if (index <= kHpackStaticEntries) {
        const HpackField& f = hpackStaticEntry(index);
        if (admit(f.name.size(), f.value.size())) {
          out.push_back(f);
          if (check_) flag();
        }
        continue;
      }
      std::size_t dyn = index - kHpackStaticEntries - 1;
      if (dyn >= table_.count()) {
        return common::fail(ErrorKind::kProtocol,
                            "an indexed field has index " + std::to_string(index) +
                                " but the tables hold " +
                                std::to_string(kHpackStaticEntries + table_.count()) + " entries");
      }
      HpackField f = table_.entry(dyn);
      if (admit(f.name.size(), f.value.size())) {
        // Copied: a later insertion in this block may evict or move the entry.
        std::size_t n = f.name.size() + f.value.size();
        char* at = room(n);
        // (An empty entry's views may be null: memcpy is not called with those.)
        if (n > 0) std::memcpy(at, f.name.data(), n);  // the value follows the name in the table
        out.push_back({{at, f.name.size()}, {at + f.name.size(), f.value.size()}});
        if (table_.checked(dyn)) flag();
        take(n);
        kept += n;
      }
      continue;
    }
    if ((b & 0xe0) == 0x20) {
      // Dynamic table size update (section 6.3): only before the first field.
      std::uint32_t size;
      if (IntStatus st = readInt(p, end, 5, size); st != IntStatus::kOk) {
        return intError(st, "dynamic table size update");
      }
      if (fields_seen) {
        return common::fail(ErrorKind::kProtocol,
                            "a dynamic table size update follows a header field; expected it "
                            "only at the start of the header block");
      }
      if (size > settings_max_) {
        return common::fail(ErrorKind::kProtocol,
                            "a dynamic table size update asks for " + std::to_string(size) +
                                " bytes; expected at most the " + std::to_string(settings_max_) +
                                " our SETTINGS allow");
      }
      table_.setMaxSize(size);
      update_required_ = false;
      continue;
    }
    // A literal field (sections 6.2.1-6.2.3): with incremental indexing (01), without
    // indexing (0000) or never indexed (0001).
    bool index_it = (b & 0xc0) == 0x40;
    if (update_required_) {
      return common::fail(ErrorKind::kProtocol,
                          "the header block starts with a field, but the table size was "
                          "lowered and a dynamic table size update must come first");
    }
    fields_seen = true;
    std::uint32_t name_index;
    if (IntStatus st = readInt(p, end, index_it ? 6 : 4, name_index); st != IntStatus::kOk) {
      return intError(st, "name index of a literal field");
    }
    const Mark mark{chunk_, offset_};
    std::size_t taken = 0;
    bool huge = false;
    std::string_view name;
    if (name_index == 0) {
      if (auto r = readString(name, taken, huge); !r) return r;
    } else if (name_index <= kHpackStaticEntries) {
      name = hpackStaticEntry(name_index).name;
    } else {
      std::size_t dyn = name_index - kHpackStaticEntries - 1;
      if (dyn >= table_.count()) {
        return common::fail(ErrorKind::kProtocol,
                            "a literal field names index " + std::to_string(name_index) +
                                " but the tables hold " +
                                std::to_string(kHpackStaticEntries + table_.count()) + " entries");
      }
      // Copied, as above; it is at most the table's size, so within the budget.
      std::string_view n = table_.entry(dyn).name;
      char* at = room(n.size());
      if (!n.empty()) std::memcpy(at, n.data(), n.size());
      name = {at, n.size()};
      take(n.size());
      taken += n.size();
    }
    std::string_view value;
    if (auto r = readString(value, taken, huge); !r) return r;
    bool keep = false;
    if (huge) {
      // Larger than what the budget leaves, hence than the table: the list is over the limit,
      // and an insertion would empty the table (section 4.4).
      over = true;
      if (index_it) table_.clear();
    } else {
      keep = admit(name.size(), value.size());
      // Checked here only when the table keeps it; a field sent without indexing is the
      // user's to check.
      const bool checked = index_it && check_ && check_(name, value);
      if (keep) {
        out.push_back({name, value});
        if (checked) flag();
        kept += taken;
      }
      if (index_it) table_.add(name, value, checked);
    }
    if (!keep) {
      chunk_ = mark.chunk;  // scratch: the next field reuses it
      offset_ = mark.offset;
    }
  }
  if (over) {
    return common::fail(ErrorKind::kOverflow,
                        "the header list is larger than the " + std::to_string(max_list_size_) +
                            " bytes allowed (names, values and 32 per field)");
  }
  return {};
}

}  // namespace halyard::proxy::http
