// connectionPool limits as Envoy's circuit breakers: each is a process-wide count (the
// ClusterState all workers share) checked against the cluster's threshold. A request that would
// exceed one is not queued beyond http1MaxPendingRequests: it fails at once (503, flag UO) and
// the overflow is counted. A slot is held by an RAII Slot and given back when it goes.
#pragma once

#include <atomic>
#include <cstdint>

#include "proxy/upstream/shared_upstream.h"

namespace halyard::proxy::upstream {

// Which limit overflowed, for the metrics (Envoy's names).
enum class Overflow {
  kRequests,     // http2MaxRequests: upstream_rq_pending_overflow
  kPending,      // http1MaxPendingRequests: upstream_rq_pending_overflow
  kConnections,  // maxConnections: upstream_cx_overflow
  kRetries,      // maxRetries: upstream_rq_retry_overflow
};

// One unit of a counter, held while it lives. Empty when the limit refused it (or none applies).
class Slot {
 public:
  Slot() = default;
  Slot(Slot&& o) noexcept : counter_(o.counter_) { o.counter_ = nullptr; }
  Slot& operator=(Slot&& o) noexcept {
    if (this != &o) {
      release();
      counter_ = o.counter_;
      o.counter_ = nullptr;
    }
    return *this;
  }
  ~Slot() { release(); }

  // A unit of `counter` if it is below `limit` (0: no limit, the unit is still counted).
  static Slot acquire(std::atomic<uint32_t>& counter, uint32_t limit) {
    uint32_t current = counter.load(std::memory_order_relaxed);
    do {
      if (limit != 0 && current >= limit) return Slot();
    } while (!counter.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return Slot(counter);
  }

  explicit operator bool() const { return counter_ != nullptr; }
  // The unit now belongs to someone else (a connection that gives it back when destroyed).
  void detach() { counter_ = nullptr; }
  void release() {
    if (counter_) counter_->fetch_sub(1, std::memory_order_relaxed);
    counter_ = nullptr;
  }

 private:
  explicit Slot(std::atomic<uint32_t>& counter) : counter_(&counter) {}
  std::atomic<uint32_t>* counter_ = nullptr;
};

}  // namespace halyard::proxy::upstream
