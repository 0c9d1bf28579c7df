// The control plane's own event counters and latency histograms, for its admin /metrics.
//
// Process-wide (one control plane per process): the push sessions and the controller record
// into it from their own threads with relaxed atomics, and the admin thread reads it at scrape
// time. What is a current state (proxies connected, quarantined objects) is not counted here but
// read from the controller's status when /metrics is rendered.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace halyard::control {

// A Prometheus histogram in seconds with fixed bounds; record() from any thread.
class SecondsHistogram {
 public:
  // 1 ms .. 30 s: a push answered within a millisecond on loopback, up to a proxy that is stuck.
  static constexpr std::array<double, 14> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,   30};

  void record(std::chrono::nanoseconds elapsed);
  // Appends `name`_bucket/_sum/_count lines (HELP and TYPE included).
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // not cumulative
  std::atomic<uint64_t> sum_ns_{0};
};

struct ControlMetrics {
  std::atomic<uint64_t> pushes{0};        // snapshots written to proxies (whole or delta)
  std::atomic<uint64_t> whole_pushes{0};  // of which whole
  std::atomic<uint64_t> acks{0};          // answers to them
  std::atomic<uint64_t> nacks{0};
  std::atomic<uint64_t> config_errors{0};  // ConfigError sent instead of a push
  std::atomic<uint64_t> generations{0};    // config generations built
  std::atomic<uint64_t> connects{0};       // proxy streams that said a valid hello
  std::atomic<uint64_t> disconnects{0};
  SecondsHistogram push_latency;             // a push written -> its ACK or NACK
  SecondsHistogram generation_duration;      // an event -> every class translated and offered
  SecondsHistogram scrape_duration;          // a dashboard scrape round of every proxy
  std::atomic<uint64_t> scrape_failures{0};  // proxies whose /stats/prometheus did not answer

  // Appends the counters and histograms above.
  void render(std::string& out) const;
};

// The process's instance.
ControlMetrics& controlMetrics();

}  // namespace halyard::control
