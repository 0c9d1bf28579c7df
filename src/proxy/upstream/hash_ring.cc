#include "proxy/upstream/hash_ring.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace halyard::proxy::upstream {

namespace {

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool isPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

uint64_t hashKey(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return mix(h);
}

HashRing HashRing::ring(const std::vector<std::string>& names, const std::vector<uint32_t>& weights,
                        uint64_t min_size) {
  HashRing out;
  if (names.empty()) return out;
  const uint64_t size = std::min(min_size == 0 ? kDefaultRingSize : min_size, kMaxRingSize);
  const uint64_t total =
      std::max<uint64_t>(std::accumulate(weights.begin(), weights.end(), uint64_t{0}), 1);
  // Every host gets at least one point; the smallest weight gets ceil(size * w / total).
  out.ring_.reserve(size + names.size());
  for (uint32_t i = 0; i < names.size(); ++i) {
    const uint64_t w = std::max<uint32_t>(weights[i], 1);
    const uint64_t points = std::max<uint64_t>(1, (size * w + total - 1) / total);
    std::string key = names[i] + "_";
    const size_t stem = key.size();
    for (uint64_t p = 0; p < points; ++p) {
      key.resize(stem);
      key += std::to_string(p);
      out.ring_.push_back(Point{hashKey(key), i});
    }
  }
  std::sort(out.ring_.begin(), out.ring_.end(), [](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.host < b.host;
  });
  return out;
}

HashRing HashRing::maglev(const std::vector<std::string>& names,
                          const std::vector<uint32_t>& weights, uint64_t table_size) {
  HashRing out;
  if (names.empty()) return out;
  uint64_t m = table_size == 0 ? kDefaultMaglevSize : table_size;
  while (!isPrime(m)) ++m;  // the permutation needs a prime size
  const size_t n = names.size();
  std::vector<uint64_t> offset(n), skip(n), next(n, 0);
  for (size_t i = 0; i < n; ++i) {
    offset[i] = hashKey(names[i]) % m;
    skip[i] = hashKey(names[i] + "#skip") % (m - 1) + 1;
  }
  const double max_weight = std::max<double>(*std::max_element(weights.begin(), weights.end()), 1);
  std::vector<double> credit(n, 0.0);
  out.table_.assign(m, UINT32_MAX);
  uint64_t filled = 0;
  while (filled < m) {
    for (size_t i = 0; i < n && filled < m; ++i) {
      // Weighted Maglev: a host takes its turn only as often as its share of the largest weight.
      credit[i] += std::max<uint32_t>(weights[i], 1) / max_weight;
      if (credit[i] < 1.0) continue;
      credit[i] -= 1.0;
      uint64_t slot = (offset[i] + next[i] * skip[i]) % m;
      while (out.table_[slot] != UINT32_MAX) {
        ++next[i];
        slot = (offset[i] + next[i] * skip[i]) % m;
      }
      out.table_[slot] = static_cast<uint32_t>(i);
      ++next[i];
      ++filled;
    }
  }
  return out;
}

uint32_t HashRing::pick(uint64_t hash, uint32_t attempt) const {
  if (!table_.empty()) {
    const uint64_t h = attempt == 0 ? hash : mix(hash + attempt);
    return table_[h % table_.size()];
  }
  auto it = std::lower_bound(ring_.begin(), ring_.end(), hash,
                             [](const Point& p, uint64_t h) { return p.hash < h; });
  size_t i = it == ring_.end() ? 0 : static_cast<size_t>(it - ring_.begin());
  if (attempt == 0) return ring_[i].host;
  // The attempt-th distinct host after the first along the ring.
  const uint32_t first = ring_[i].host;
  uint32_t seen = 0;
  uint32_t last = first;
  for (size_t k = 1; k < ring_.size(); ++k) {
    const uint32_t h = ring_[(i + k) % ring_.size()].host;
    if (h == first || h == last) continue;
    last = h;
    if (++seen == attempt) return h;
  }
  return first;
}

}  // namespace halyard::proxy::upstream
