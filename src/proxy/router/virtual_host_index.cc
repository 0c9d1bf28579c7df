#include "proxy/router/virtual_host_index.h"

#include <algorithm>
#include <limits>

#include "proxy/router/string_util.h"

namespace halyard::proxy::router {

namespace {
constexpr size_t kNone = std::numeric_limits<size_t>::max();

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
}
}  // namespace

size_t VirtualHostIndex::CiHash::operator()(std::string_view s) const {
  // Over the lowercased bytes, eight at a time (lookups hash the request's Host as sent): each
  // word is mixed in with a multiply and a fold of the high half, which spreads it over all
  // bits; the length goes in first, so strings that differ only in trailing zero bytes differ.
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t h = s.size() * kMul;
  size_t i = 0;
  auto mix = [&](uint64_t word) {
    h = (h ^ lowerAscii8(word)) * kMul;
    h ^= h >> 32;
  };
  for (; i + 8 <= s.size(); i += 8) mix(loadWord(s.data() + i, 8));
  if (i < s.size()) mix(loadWord(s.data() + i, s.size() - i));
  return static_cast<size_t>(h);
}

bool VirtualHostIndex::CiEq::operator()(std::string_view a, std::string_view b) const {
  return equalsIgnoreCase(a, b);
}

void VirtualHostIndex::insert(Map& m, std::string key, size_t vh) {
  m.emplace(std::move(key), vh);  // the first virtual host with this domain keeps it
}

void VirtualHostIndex::insertWild(std::vector<Wildcards>& list, std::string key, bool ported,
                                  size_t vh) {
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const Wildcards& w) { return w.length == key.size(); });
  if (it == list.end()) {
    list.push_back(Wildcards{key.size(), {}, {}});
    it = list.end() - 1;
  }
  insert(ported ? it->with_port : it->without_port, std::move(key), vh);
}

VirtualHostIndex::VirtualHostIndex(std::shared_ptr<const translate::RouteTable> table)
    : table_(std::move(table)), catch_all_(kNone) {
  const auto& hosts = table_->virtual_hosts;
  for (size_t i = 0; i < hosts.size(); ++i) {
    for (const auto& d : hosts[i].domains) {
      if (d.empty()) continue;
      if (d == "*") {
        if (catch_all_ == kNone) catch_all_ = i;
        continue;
      }
      const bool ported = hostWithoutPort(d) != d;
      if (d.front() == '*') {
        insertWild(suffixes_, lowered(std::string_view(d).substr(1)), ported, i);
      } else if (d.back() == '*') {
        insertWild(prefixes_, lowered(std::string_view(d).substr(0, d.size() - 1)), ported, i);
      } else {
        insert(exact_, lowered(d), i);
      }
    }
  }
  auto longestFirst = [](const Wildcards& a, const Wildcards& b) { return a.length > b.length; };
  std::sort(suffixes_.begin(), suffixes_.end(), longestFirst);
  std::sort(prefixes_.begin(), prefixes_.end(), longestFirst);
}

size_t VirtualHostIndex::lookup(const Map& m, std::string_view key) {
  if (m.empty()) return kNone;
  auto it = m.find(key);
  return it == m.end() ? kNone : it->second;
}

size_t VirtualHostIndex::lookupWild(const std::vector<Wildcards>& list, Side side,
                                    std::string_view host, std::string_view authority) {
  auto part = [&](std::string_view target, size_t len) {
    return side == Side::kSuffix ? target.substr(target.size() - len) : target.substr(0, len);
  };
  for (const auto& w : list) {
    size_t best = kNone;
    // The wildcard must cover at least one character, hence the strict comparison.
    if (host.size() > w.length) best = std::min(best, lookup(w.without_port, part(host, w.length)));
    if (authority.size() > w.length && !w.with_port.empty()) {
      best = std::min(best, lookup(w.with_port, part(authority, w.length)));
    }
    if (best != kNone) return best;
  }
  return kNone;
}

const translate::VirtualHost* VirtualHostIndex::find(std::string_view authority) const {
  const std::string_view host = hostWithoutPort(authority);
  size_t i = lookup(exact_, host);
  if (authority.size() != host.size()) i = std::min(i, lookup(exact_, authority));
  if (i == kNone) i = lookupWild(suffixes_, Side::kSuffix, host, authority);
  if (i == kNone) i = lookupWild(prefixes_, Side::kPrefix, host, authority);
  if (i == kNone) i = catch_all_;
  return i == kNone ? nullptr : &table_->virtual_hosts[i];
}

RouteSelection VirtualHostIndex::select(const http::RequestView& req) const {
  RouteSelection sel;
  sel.virtual_host = find(req.authority);
  if (sel.virtual_host) sel.route = selectRouteInHost(*sel.virtual_host, req);
  return sel;
}

}  // namespace halyard::proxy::router
