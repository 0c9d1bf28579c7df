// Consistent hashing for loadBalancer.consistentHash: Envoy's ring hash (every host placed on a
// ring of at least minimumRingSize points, in proportion to its weight; a key goes to the first
// point at or after its hash) or Maglev (a lookup table of tableSize entries, a prime, filled by
// Maglev's permutation algorithm in proportion to weight). Built once per worker per snapshot
// (and after a DNS answer changes the hosts), never per request. Hashes are a fixed function of
// the hosts' addresses, so every worker and every proxy maps a key to the same host.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace halyard::proxy::upstream {

// 64-bit hash of a key (FNV-1a, then a finalizer for good spread over the ring).
uint64_t hashKey(std::string_view key);

class HashRing {
 public:
  static constexpr uint64_t kDefaultRingSize = 1024;
  static constexpr uint64_t kMaxRingSize = 8 * 1024 * 1024;
  static constexpr uint64_t kDefaultMaglevSize = 65537;

  HashRing() = default;
  // `names` and `weights` are parallel (host i); `size` 0 means the default for the kind.
  static HashRing ring(const std::vector<std::string>& names, const std::vector<uint32_t>& weights,
                       uint64_t min_size);
  static HashRing maglev(const std::vector<std::string>& names,
                         const std::vector<uint32_t>& weights, uint64_t table_size);

  bool empty() const { return ring_.empty() && table_.empty(); }
  // The host for `hash`, then (attempt 1, 2, ...) other candidates for when the first one is
  // ejected or was already tried: the next distinct hosts along the ring, or for Maglev the
  // entries of rehashed keys.
  uint32_t pick(uint64_t hash, uint32_t attempt = 0) const;
  size_t size() const { return ring_.empty() ? table_.size() : ring_.size(); }

 private:
  struct Point {
    uint64_t hash;
    uint32_t host;
  };
  std::vector<Point> ring_;
  std::vector<uint32_t> table_;  // Maglev
};

}  // namespace halyard::proxy::upstream
