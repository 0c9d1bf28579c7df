// A small, fast, per-worker pseudo-random generator (splitmix64) for load balancing, weighted
// picks, fault sampling, retry jitter and request ids. Not cryptographic: nothing here needs to
// resist prediction, and a per-worker instance needs no locking.
#pragma once

#include <cstdint>

namespace halyard::proxy::upstream {

class FastRandom {
 public:
  explicit FastRandom(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Uniform enough in [0, bound) for bound far below 2^64; bound 0 gives 0.
  uint64_t below(uint64_t bound) { return bound == 0 ? 0 : next() % bound; }

 private:
  uint64_t state_;
};

}  // namespace halyard::proxy::upstream
