#include "proxy/http/hpack_encoder.h"

#include <algorithm>
#include <cstring>

#include "proxy/http/hpack_huffman.h"

namespace halyard::proxy::http {
namespace {

// An integer with an N-bit prefix (section 5.1); `first` holds the representation's flag bits.
inline void writeInt(std::string& out, unsigned char first, int prefix_bits, std::size_t value) {
  const std::size_t mask = (std::size_t{1} << prefix_bits) - 1;
  if (value < mask) {
    out.push_back(static_cast<char>(first | value));
    return;
  }
  out.push_back(static_cast<char>(first | mask));
  value -= mask;
  while (value >= 0x80) {
    out.push_back(static_cast<char>(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// A string literal, Huffman coded when that is shorter. Counting the coded length is a table
// lookup per byte, cheaper than coding; measured on the proxy's fields (bench/hpack_bench), the
// choice saves bytes on almost every value and costs few instructions.
inline void writeString(std::string& out, std::string_view s) {
  std::size_t coded = huffmanEncodedLength(s);
  if (coded < s.size()) {
    writeInt(out, 0x80, 7, coded);
    huffmanEncode(s, coded, out);
  } else {
    writeInt(out, 0x00, 7, s.size());
    out.append(s);
  }
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
    for (std::size_t i = 0; i < n; ++i) w = (w << 8) | static_cast<unsigned char>(p[i]);
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

HpackEncoder::HpackEncoder(std::uint32_t max_table_size)
    : table_(max_table_size), cap_(max_table_size) {}

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

std::size_t HpackEncoder::dynamicIndexOf(std::uint64_t seq) const {
  return kHpackStaticEntries + 1 + (table_.inserted() - 1 - seq);
}

bool HpackEncoder::live(std::uint64_t slot_value) const {
  return slot_value != 0 && slot_value - 1 >= table_.inserted() - table_.count();
}

void HpackEncoder::beginBlock(std::string& out) {
  if (!pending_) return;
  // A size lowered and raised again since the last block: the smallest first (section 4.2).
  if (pending_min_ < table_.maxSize()) writeInt(out, 0x20, 5, pending_min_);
  writeInt(out, 0x20, 5, table_.maxSize());
  pending_ = false;
}

void HpackEncoder::add(std::string_view name, std::string_view value, std::string& out) {
  HpackStaticMatch st = hpackStaticFind(name, value);
  if (st.exact) {
    writeInt(out, 0x80, 7, st.index);
    return;
  }
  Indexing how = decideIndexing(name, value);
  std::uint64_t hn = hashBytes(name, 0);
  std::size_t name_index = st.index;
  if (how == Indexing::kIncremental) {
    std::uint64_t hf = hashBytes(value, hn);
    std::uint64_t& fs = by_field_[hf % kSlots];
    if (live(fs)) {
      HpackField e = table_.entry(table_.inserted() - fs);
      if (e.name == name && e.value == value) {
        writeInt(out, 0x80, 7, dynamicIndexOf(fs - 1));
        return;
      }
    }
    if (name_index == 0) {
      std::uint64_t ns = by_name_[hn % kSlots];
      if (live(ns) && table_.entry(table_.inserted() - ns).name == name) {
        name_index = dynamicIndexOf(ns - 1);
      }
    }
    if (name.size() + value.size() + kHpackEntryOverhead <= table_.maxSize() * 3 / 4) {
      writeInt(out, 0x40, 6, name_index);
      if (name_index == 0) writeString(out, name);
      writeString(out, value);
      table_.add(name, value);
      fs = table_.inserted();
      by_name_[hn % kSlots] = table_.inserted();
      return;
    }
    how = Indexing::kWithout;  // too large: it would empty most of the table
  } else if (name_index == 0) {
    std::uint64_t ns = by_name_[hn % kSlots];
    if (live(ns) && table_.entry(table_.inserted() - ns).name == name) {
      name_index = dynamicIndexOf(ns - 1);
    } else if (how == Indexing::kWithout &&
               name.size() + value.size() + kHpackEntryOverhead <= table_.maxSize() / 4) {
      // A name in neither table (x-request-id, x-envoy-upstream-service-time) would be sent in
      // full on every request: its first field is indexed, and later ones, still not indexed,
      // refer to that entry's name (one byte instead of the name, about 20 on the proxy's load).
      writeInt(out, 0x40, 6, 0);
      writeString(out, name);
      writeString(out, value);
      table_.add(name, value);
      by_field_[hashBytes(value, hn) % kSlots] = table_.inserted();
      by_name_[hn % kSlots] = table_.inserted();
      return;
    }
  }
  writeInt(out, how == Indexing::kNever ? 0x10 : 0x00, 4, name_index);
  if (name_index == 0) writeString(out, name);
  writeString(out, value);
}

void HpackEncoder::encode(std::span<const HpackField> fields, std::string& out) {
  beginBlock(out);
  for (const HpackField& f : fields) add(f.name, f.value, out);
}

}  // namespace halyard::proxy::http
