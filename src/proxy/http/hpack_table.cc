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

// Static names bucketed by length, so a lookup compares only names of the right length (the
// longest static name has 27 bytes). Each bucket lists first indexes of distinct names.
constexpr std::size_t kMaxStaticName = 27;
struct ByLength {
  std::array<std::array<std::uint8_t, 8>, kMaxStaticName + 1> index{};
  std::array<std::uint8_t, kMaxStaticName + 1> count{};
};
constexpr ByLength buildByLength() {
  ByLength b;
  for (std::size_t i = 0; i < kStatic.size(); ++i) {
    if (i > 0 && kStatic[i].name == kStatic[i - 1].name) continue;
    std::size_t len = kStatic[i].name.size();
    b.index[len][b.count[len]++] = static_cast<std::uint8_t>(i + 1);
  }
  return b;
}
constexpr ByLength kByLength = buildByLength();

}  // namespace

const HpackField& hpackStaticEntry(std::size_t index) {
  return kStatic[index - 1];
}

HpackStaticMatch hpackStaticFind(std::string_view name, std::string_view value) {
  if (name.size() > kMaxStaticName) return {};
  const auto& bucket = kByLength.index[name.size()];
  for (std::size_t b = 0; b < kByLength.count[name.size()]; ++b) {
    std::size_t first = bucket[b];
    if (std::memcmp(kStatic[first - 1].name.data(), name.data(), name.size()) != 0) continue;
    // Entries sharing a name are adjacent (:method, :path, :scheme, :status).
    for (std::size_t i = first; i <= kStatic.size() && kStatic[i - 1].name == name; ++i) {
      if (kStatic[i - 1].value == value) return {static_cast<std::uint8_t>(i), true};
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
