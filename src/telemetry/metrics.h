// The value cells of one metric series: counter, gauge, histogram.
//
// Thread model (see worker_stats.h): each cell has exactly one writer, the thread that owns the
// WorkerStats it lives in; any thread may read it. Cells are relaxed atomics so that the reads
// of the scraper are race-free, but the writer never does a read-modify-write instruction: it
// loads its own last value and stores the new one, which on x86 and ARM compiles to the same
// plain loads and stores as an ordinary integer. No locks, no fences; a scrape pulls the cache
// lines over once, not per request.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace halyard::telemetry {

struct Label {
  std::string_view name;
  std::string_view value;
  friend auto operator<=>(const Label&, const Label&) = default;
};

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };

class Counter {
 public:
  void inc(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Per-worker gauges are summed at scrape time, so a worker adds and subtracts its own share
// (connections it accepted and closed); set() only makes sense for a gauge one thread owns.
class Gauge {
 public:
  void add(int64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(int64_t n = 1) { add(-n); }
  void set(int64_t n) { v_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Envoy's default histogram buckets (used by Istio for durations in ms and sizes in bytes).
inline constexpr std::array<double, 19> kDefaultBuckets = {
    0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
    2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

class Histogram {
 public:
  // One count per bucket, not cumulative: bucket i holds values in (bound[i-1], bound[i]]; the
  // last one (+Inf) the values above every bound. Readers derive the total from the buckets, so
  // a scrape racing a record never shows a _count that disagrees with its +Inf bucket.
  static constexpr size_t kBucketCount = kDefaultBuckets.size() + 1;

  void record(uint64_t value) {
    bump(buckets_[bucketIndex(value)], 1);
    bump(sum_, value);
  }
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }

  // The bucket a value falls in: the first bound >= value (a value equal to a bound is in it).
  static size_t bucketIndex(uint64_t value) {
    const double v = static_cast<double>(value);
    size_t i = 0;
    while (i < kDefaultBuckets.size() && v > kDefaultBuckets[i]) ++i;
    return i;
  }

 private:
  static void bump(std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kBucketCount> buckets_{};
  std::atomic<uint64_t> sum_{0};
};

}  // namespace halyard::telemetry
