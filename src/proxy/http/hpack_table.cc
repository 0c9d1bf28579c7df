#include "proxy/http/hpack_table.h"

#include <array>
#include <cstring>

namespace halyard::proxy::http {
namespace {

// RFC 7541 Appendix A.
constexpr std::array<HpackField, kHpackStaticEntries> kStatic = {{
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
}};

// Static names by a hash of their length and last two bytes (constants found by a search),
// in 64 slots of at most two names each (checked at compile time): a lookup compares one or
// two names, and for most names not in the table only lengths.
constexpr std::size_t kNameSlots = 64;
constexpr std::size_t kSlotDepth = 2;
constexpr std::size_t nameSlot(std::string_view name) {
  std::size_t n = name.size();
  if (n < 2) return n;
  return (n + static_cast<unsigned char>(name[n - 1]) +
          static_cast<unsigned char>(name[n - 2]) * 10) %
         kNameSlots;
}
struct NameIndex {
  std::array<std::array<std::uint8_t, kSlotDepth>, kNameSlots> first{};  // 0: empty
  bool fits = true;  // no slot needed more than kSlotDepth names
};
constexpr NameIndex buildNameIndex() {
  NameIndex x;
  for (std::size_t i = 0; i < kStatic.size(); ++i) {
    if (i > 0 && kStatic[i].name == kStatic[i - 1].name) continue;
    auto& slot = x.first[nameSlot(kStatic[i].name)];
    std::size_t d = 0;
    while (d < kSlotDepth && slot[d] != 0) ++d;
    if (d == kSlotDepth) {
      x.fits = false;
      return x;
    }
    slot[d] = static_cast<std::uint8_t>(i + 1);
  }
  return x;
}
constexpr NameIndex kNameIndex = buildNameIndex();
static_assert(kNameIndex.fits, "static table names collide too often in nameSlot()");

}  // namespace

const HpackField& hpackStaticEntry(std::size_t index) {
  return kStatic[index - 1];
}

HpackStaticMatch hpackStaticFind(std::string_view name, std::string_view value) {
  const auto& slot = kNameIndex.first[nameSlot(name)];
  for (std::size_t d = 0; d < kSlotDepth && slot[d] != 0; ++d) {
    std::size_t first = slot[d];
    if (!hpackSame(kStatic[first - 1].name, name)) continue;
    // Entries sharing a name are adjacent (:method, :path, :scheme, :status).
    for (std::size_t i = first; i <= kStatic.size() && hpackSame(kStatic[i - 1].name, name); ++i) {
      if (hpackSame(kStatic[i - 1].value, value)) return {static_cast<std::uint8_t>(i), true};
    }
    return {static_cast<std::uint8_t>(first), false};
  }
  return {};
}

HpackDynamicTable::HpackDynamicTable(std::uint32_t max_size)
    : bytes_(2 * std::size_t{max_size}),
      slots_(max_size / kHpackEntryOverhead + 1),
      max_size_(max_size) {}

HpackField HpackDynamicTable::entry(std::size_t i) const {
  const Slot& s = slot(i);
  const char* p = bytes_.data() + (s.at - base_);
  return {{p, s.name_len}, {p + s.name_len, s.value_len}};
}

void HpackDynamicTable::evictOldest() {
  const Slot& s = slot(count_ - 1);
  size_ -= static_cast<std::uint32_t>(s.name_len + s.value_len + kHpackEntryOverhead);
  --count_;
  if (count_ == 0) base_ = end_ = 0;
}

void HpackDynamicTable::setMaxSize(std::uint32_t max_size) {
  while (size_ > max_size) evictOldest();
  if (2 * std::size_t{max_size} > bytes_.size() ||
      max_size / kHpackEntryOverhead + 1 > slots_.size()) {
    // Grow the storage, keeping the live entries (oldest first) in order.
    std::vector<char> bytes(2 * std::size_t{max_size});
    std::vector<Slot> slots(max_size / kHpackEntryOverhead + 1);
    std::uint64_t pos = 0;
    for (std::size_t k = 0; k < count_; ++k) {
      const Slot& s = slot(count_ - 1 - k);
      std::memcpy(bytes.data() + pos, bytes_.data() + (s.at - base_), s.name_len + s.value_len);
      slots[k] = {pos, s.name_len, s.value_len};
      pos += s.name_len + s.value_len;
    }
    bytes_ = std::move(bytes);
    slots_ = std::move(slots);
    head_ = count_ % slots_.size();
    base_ = 0;
    end_ = pos;
  }
  max_size_ = max_size;
}

void HpackDynamicTable::clear() {
  while (count_ > 0) evictOldest();
}

void HpackDynamicTable::add(std::string_view name, std::string_view value) {
  std::size_t need = name.size() + value.size() + kHpackEntryOverhead;
  if (need > max_size_) {
    clear();
    return;
  }
  while (size_ + need > max_size_) evictOldest();
  std::size_t len = name.size() + value.size();
  if (end_ - base_ + len > bytes_.size()) {
    // Move the live bytes to the front. They are at most max_size_ - 32 * count_, so with the
    // buffer twice the maximum size this happens at most once per max_size_ bytes added.
    std::uint64_t live = count_ > 0 ? slot(count_ - 1).at : end_;
    std::memmove(bytes_.data(), bytes_.data() + (live - base_), end_ - live);
    base_ = live;
  }
  char* p = bytes_.data() + (end_ - base_);
  if (!name.empty()) std::memcpy(p, name.data(), name.size());
  if (!value.empty()) std::memcpy(p + name.size(), value.data(), value.size());
  slots_[head_] = {end_, static_cast<std::uint32_t>(name.size()),
                   static_cast<std::uint32_t>(value.size())};
  head_ = (head_ + 1) % slots_.size();
  end_ += len;
  ++count_;
  ++inserted_;
  size_ += static_cast<std::uint32_t>(need);
}

}  // namespace halyard::proxy::http
