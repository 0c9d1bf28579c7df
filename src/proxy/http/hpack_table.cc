#include "proxy/http/hpack_table.h"

#include <algorithm>
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
  // For each entry, the last index with the same name (entries sharing a name are adjacent:
  // :method, :path, :scheme, :status), so a lookup compares only values past the name.
  std::array<std::uint8_t, kHpackStaticEntries + 1> last{};
  bool fits = true;  // no slot needed more than kSlotDepth names
};
constexpr NameIndex buildNameIndex() {
  NameIndex x;
  for (std::size_t i = kStatic.size(); i >= 1; --i) {
    bool same_as_next = i < kStatic.size() && kStatic[i - 1].name == kStatic[i].name;
    x.last[i] = static_cast<std::uint8_t>(same_as_next ? x.last[i + 1] : i);
  }
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
    for (std::size_t i = first; i <= kNameIndex.last[first]; ++i) {
      if (hpackSame(kStatic[i - 1].value, value)) return {static_cast<std::uint8_t>(i), true};
    }
    return {static_cast<std::uint8_t>(first), false};
  }
  return {};
}

HpackDynamicTable::HpackDynamicTable(std::uint32_t max_size) : max_size_(max_size) {}

HpackField HpackDynamicTable::entry(std::size_t i) const {
  const Slot& s = slot(i);
  const char* p = bytes_.data() + (s.at - base_);
  return {{p, s.name_len}, {p + s.name_len, s.valueLen()}};
}

void HpackDynamicTable::evictOldest() {
  const Slot& s = slot(count_ - 1);
  size_ -= static_cast<std::uint32_t>(s.name_len + s.valueLen() + kHpackEntryOverhead);
  --count_;
  if (count_ == 0) base_ = end_ = 0;
}

void HpackDynamicTable::setMaxSize(std::uint32_t max_size) {
  while (size_ > max_size) evictOldest();
  max_size_ = max_size;
}

void HpackDynamicTable::resizeSlots(std::size_t n) {
  // The live entries move to the start of the new ring, oldest first.
  std::vector<Slot> slots(n);
  for (std::size_t k = 0; k < count_; ++k) slots[k] = slot(count_ - 1 - k);
  slots_ = std::move(slots);
  head_ = count_;
}

void HpackDynamicTable::clear() {
  while (count_ > 0) evictOldest();
}

void HpackDynamicTable::makeRoom(std::size_t len) {
  // The live bytes (from the oldest entry's) are at most max_size_ - 32 * count_ and, with
  // `len`, fit the maximum size. The buffer starts small and doubles while the live bytes fill
  // more than half of it, up to twice the maximum size: an idle connection's table holds what
  // it uses, not its limit, and moving the live bytes to the front happens at most once per
  // half buffer of bytes added.
  std::uint64_t oldest = count_ > 0 ? slot(count_ - 1).at : end_;
  std::size_t live = static_cast<std::size_t>(end_ - oldest);
  std::size_t cap = bytes_.size();
  if ((live + len) * 2 > cap && cap < 2 * std::size_t{max_size_}) {
    std::size_t grown = std::max<std::size_t>({2 * cap, 2 * (live + len), 256});
    std::vector<char> bytes(std::min(grown, 2 * std::size_t{max_size_}));
    if (live > 0) std::memcpy(bytes.data(), bytes_.data() + (oldest - base_), live);
    bytes_ = std::move(bytes);
  } else if (live > 0) {
    std::memmove(bytes_.data(), bytes_.data() + (oldest - base_), live);
  }
  base_ = oldest;
}

void HpackDynamicTable::add(std::string_view name, std::string_view value, bool checked) {
  std::size_t need = name.size() + value.size() + kHpackEntryOverhead;
  if (need > max_size_) {
    clear();
    return;
  }
  while (size_ + need > max_size_) evictOldest();
  if (count_ == slots_.size()) {
    // The ring is full: twice as large, from 16 entries (a few hundred bytes for a proxy's
    // usual few dozen fields) up to as many as the maximum size can hold.
    resizeSlots(std::max<std::size_t>(16, 2 * slots_.size()));
  }
  std::size_t len = name.size() + value.size();
  if (end_ - base_ + len > bytes_.size()) makeRoom(len);
  char* p = bytes_.data() + (end_ - base_);
  if (!name.empty()) std::memcpy(p, name.data(), name.size());
  if (!value.empty()) std::memcpy(p + name.size(), value.data(), value.size());
  slots_[head_] = {end_, static_cast<std::uint32_t>(name.size()),
                   static_cast<std::uint32_t>(value.size()) | (checked ? kCheckedBit : 0)};
  head_ = (head_ + 1) % slots_.size();
  end_ += len;
  ++count_;
  ++inserted_;
  size_ += static_cast<std::uint32_t>(need);
}

}  // namespace halyard::proxy::http
