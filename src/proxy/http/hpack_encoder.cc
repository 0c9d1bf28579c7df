#include "proxy/http/hpack_encoder.h"

#include <algorithm>
#include <cstring>

#include "proxy/http/hpack_huffman.h"

namespace halyard::proxy::http {
namespace {

// An integer with an N-bit prefix (section 5.1); `first` holds the representation's flag bits.
// Writes at `p` (at most 1 + 10 bytes) and returns the end.
inline char* writeInt(char* p, unsigned char first, int prefix_bits, std::size_t value) {
  const std::size_t mask = (std::size_t{1} << prefix_bits) - 1;
  if (value < mask) {
    *p++ = static_cast<char>(first | value);
    return p;
  }
  *p++ = static_cast<char>(first | mask);
  value -= mask;
  while (value >= 0x80) {
    *p++ = static_cast<char>(0x80 | (value & 0x7f));
    value >>= 7;
  }
  *p++ = static_cast<char>(value);
  return p;
}

// A string literal, Huffman coded when that is shorter (never longer than the string plus its
// length) and worth it. Counting the coded length is a table lookup per byte, cheaper than
// coding. A string that enters the table is coded once and referred to after, so it is coded
// when shorter; a value sent without indexing is new on every request and would be coded every
// time: it goes as it is (on the proxy's load, bench/hpack_bench, coding x-request-id cost 20%
// of the request block's instructions to save 9 of its 46 bytes; HAProxy codes nothing).
inline char* writeString(char* p, std::string_view s, bool huffman = true) {
  std::size_t coded = huffman ? huffmanEncodedLength(s) : s.size();
  if (coded < s.size()) {
    p = writeInt(p, 0x80, 7, coded);
    return huffmanEncodeTo(s, p);
  }
  p = writeInt(p, 0x00, 7, s.size());
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Room a field can take: three integers (the index and two lengths) of at most 11 bytes each
// and the two strings, never longer coded than they are.
inline std::size_t fieldBound(std::string_view name, std::string_view value) {
  return name.size() + value.size() + 33;
}

// A hash of a few bytes, eight at a time (the last eight overlapping the ones before when the
// length is not a multiple). Only spreads entries over the lookup slots.
inline std::uint64_t hashBytes(std::string_view s, std::uint64_t h) {
  constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ull;
  const char* p = s.data();
  std::size_t n = s.size();
  h ^= std::uint64_t{n} << 56;
  if (n < 8) {
    std::uint64_t w = 0;
    if (n >= 4) {
      std::uint32_t lo;
      std::uint32_t hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      w = lo | (std::uint64_t{hi} << 32);
    } else {
      for (std::size_t i = 0; i < n; ++i) w = (w << 8) | static_cast<unsigned char>(p[i]);
    }
    h = (h ^ w) * kMul;
    return h ^ (h >> 32);
  }
  std::uint64_t w;
  for (; n > 8; p += 8, n -= 8) {
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  std::memcpy(&w, p + n - 8, 8);
  h = (h ^ w) * kMul;
  return h ^ (h >> 32);
}

}  // namespace

// Both sides start at the protocol's 4096 bytes; a smaller cap is signalled in the first block.
HpackEncoder::HpackEncoder(std::uint32_t max_table_size)
    : table_(std::min(max_table_size, kHpackDefaultTableSize)), cap_(max_table_size) {
  if (max_table_size < kHpackDefaultTableSize) {
    pending_ = true;
    pending_min_ = max_table_size;
  }
}

void HpackEncoder::setPeerMaxTableSize(std::uint32_t size) {
  std::uint32_t next = std::min(size, cap_);
  if (next == table_.maxSize() && !pending_) return;
  pending_min_ = pending_ ? std::min(pending_min_, next) : next;
  pending_ = true;
  table_.setMaxSize(next);
}

// Values that are new on every request or response would evict the fields that repeat, for no
// gain: request and trace ids, paths with a query string, body lengths, the upstream time.
// Credentials and short cookies are never indexed, by any hop (section 7.1.3): a table probe
// could guess them a byte at a time.
HpackEncoder::Indexing HpackEncoder::decideIndexing(std::string_view name, std::string_view value) {
  switch (name.size()) {
    case 5:
      if (name == ":path" && value.find('?') != std::string_view::npos) return Indexing::kWithout;
      break;
    case 6:
      if (name == "cookie" && value.size() < 20) return Indexing::kNever;
      break;
    case 11:
      if (name == "traceparent" || name == "x-b3-spanid") return Indexing::kWithout;
      break;
    case 12:
      if (name == "x-request-id" || name == "x-b3-traceid") return Indexing::kWithout;
      break;
    case 13:
      if (name == "authorization") return Indexing::kNever;
      break;
    case 14:
      if (name == "content-length") return Indexing::kWithout;
      break;
    case 17:
      if (name == "x-b3-parentspanid") return Indexing::kWithout;
      break;
    case 19:
      if (name == "proxy-authorization") return Indexing::kNever;
      break;
    case 29:
      if (name == "x-envoy-upstream-service-time") return Indexing::kWithout;
      break;
    default:
      break;
  }
  return Indexing::kIncremental;
}

std::uint32_t HpackEncoder::age(std::uint32_t slot_mark) const {
  return mark() - slot_mark;
}

bool HpackEncoder::live(std::uint32_t slot_mark) const {
  return slot_mark != 0 && age(slot_mark) < table_.count();
}

char* HpackEncoder::writeSizeUpdates(char* p) {
  if (!pending_) return p;
  // A size lowered and raised again since the last block: the smallest first (section 4.2).
  if (pending_min_ < table_.maxSize()) p = writeInt(p, 0x20, 5, pending_min_);
  p = writeInt(p, 0x20, 5, table_.maxSize());
  pending_ = false;
  return p;
}

void HpackEncoder::beginBlock(std::string& out) {
  position_ = 0;
  std::size_t start = out.size();
  out.resize(start + 24);
  out.resize(static_cast<std::size_t>(writeSizeUpdates(out.data() + start) - out.data()));
}

void HpackEncoder::add(std::string_view name, std::string_view value, std::string& out) {
  std::size_t start = out.size();
  out.resize(start + fieldBound(name, value));
  out.resize(static_cast<std::size_t>(writeField(out.data() + start, name, value) - out.data()));
}

char* HpackEncoder::writeField(char* p, std::string_view name, std::string_view value) {
  // A proxy's blocks on one connection mostly repeat the fields of the one before, in the same
  // order: what the field at this position matched last time is tried first (confirmed by
  // comparing bytes), before any lookup or hash.
  const std::size_t pos = position_++;
  if (pos < kRecent) {
    if (std::uint8_t si = recent_static_[pos]; si != 0) {
      const HpackField& f = hpackStaticEntry(si);
      if (hpackSame(f.value, value) && hpackSame(f.name, name)) return writeInt(p, 0x80, 7, si);
    } else if (std::uint32_t m = recent_mark_[pos]; live(m)) {
      HpackField e = table_.entry(age(m));
      if (hpackSame(e.value, value) && hpackSame(e.name, name)) {
        return writeInt(p, 0x80, 7, kHpackStaticEntries + 1 + age(m));
      }
    }
  }
  auto remember = [&](std::uint8_t static_index, std::uint32_t dynamic_mark) {
    if (pos < kRecent) {
      recent_static_[pos] = static_index;
      recent_mark_[pos] = dynamic_mark;
    }
  };
  HpackStaticMatch st = hpackStaticFind(name, value);
  if (st.exact) {
    remember(st.index, 0);
    return writeInt(p, 0x80, 7, st.index);
  }
  Indexing how = decideIndexing(name, value);
  std::size_t name_index = st.index;
  std::uint64_t hn = 0;
  if (how == Indexing::kIncremental) {
    hn = hashBytes(name, 0);
    std::uint64_t hf = hashBytes(value, hn);
    std::uint32_t& fs = by_field_[hf % kSlots];
    if (live(fs)) {
      HpackField e = table_.entry(age(fs));
      if (hpackSame(e.name, name) && hpackSame(e.value, value)) {
        remember(0, fs);
        return writeInt(p, 0x80, 7, kHpackStaticEntries + 1 + age(fs));
      }
    }
    if (name_index == 0) {
      std::uint32_t ns = by_name_[hn % kSlots];
      if (live(ns) && hpackSame(table_.entry(age(ns)).name, name)) {
        name_index = kHpackStaticEntries + 1 + age(ns);
      }
    }
    if (name.size() + value.size() + kHpackEntryOverhead <= table_.maxSize() * 3 / 4) {
      p = writeInt(p, 0x40, 6, name_index);
      if (name_index == 0) p = writeString(p, name);
      p = writeString(p, value);
      table_.add(name, value);
      fs = mark();
      by_name_[hn % kSlots] = mark();
      remember(0, mark());
      return p;
    }
    how = Indexing::kWithout;  // too large: it would empty most of the table
  } else if (name_index == 0) {
    hn = hashBytes(name, 0);
    std::uint32_t ns = by_name_[hn % kSlots];
    if (live(ns) && hpackSame(table_.entry(age(ns)).name, name)) {
      name_index = kHpackStaticEntries + 1 + age(ns);
    } else if (how == Indexing::kWithout &&
               name.size() + value.size() + kHpackEntryOverhead <= table_.maxSize() / 4) {
      // A name in neither table (x-request-id, x-envoy-upstream-service-time) would be sent in
      // full on every request: its first field is indexed, and later ones, still not indexed,
      // refer to that entry's name (one byte instead of the name, about 20 on the proxy's load).
      p = writeInt(p, 0x40, 6, 0);
      p = writeString(p, name);
      p = writeString(p, value);
      table_.add(name, value);
      by_field_[hashBytes(value, hn) % kSlots] = mark();
      by_name_[hn % kSlots] = mark();
      remember(0, 0);
      return p;
    }
  }
  remember(0, 0);
  p = writeInt(p, how == Indexing::kNever ? 0x10 : 0x00, 4, name_index);
  if (name_index == 0) p = writeString(p, name);
  p = writeString(p, value, /*huffman=*/false);
  return p;
}

void HpackEncoder::encode(std::span<const HpackField> fields, std::string& out) {
  // One resize for the block, to a size it cannot exceed, and one to what was written.
  std::size_t bound = 24;
  for (const HpackField& f : fields) bound += fieldBound(f.name, f.value);
  std::size_t start = out.size();
  out.resize(start + bound);
  char* p = writeSizeUpdates(out.data() + start);
  position_ = 0;
  for (const HpackField& f : fields) p = writeField(p, f.name, f.value);
  out.resize(static_cast<std::size_t>(p - out.data()));
}

}  // namespace halyard::proxy::http
