// The stats of one thread: counters, gauges and histograms keyed by name and labels, plus
// Istio's request metrics.
//
// Why this is race-free without locks: a WorkerStats has one writer, the thread that owns it
// (a worker, or the main thread for its own counters). The writer creates series and updates
// their cells; any other thread may read them at the same time:
//   - cells are single-writer relaxed atomics (metrics.h): a reader sees some recent value,
//     never a torn one, and the writer pays nothing for it;
//   - series form an append-only list. The writer builds a series completely, links it to the
//     current head, then publishes it with a release store of the head; a reader starts from an
//     acquire load of the head, so everything reachable from it is fully built. Series are never
//     removed or changed (except their cells) until the WorkerStats is destroyed, which must
//     happen after every reader and the writer are done with it.
//   - the lookup maps are touched by the writer only.
// So a worker never locks, and a scrape never waits for a worker or posts to its event loop.
#pragma once

#include <atomic>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>

#include "telemetry/istio_labels.h"
#include "telemetry/metrics.h"
#include "telemetry/series.h"

namespace halyard::telemetry {

class WorkerStats {
 public:
  WorkerStats();
  ~WorkerStats();
  WorkerStats(const WorkerStats&) = delete;
  WorkerStats& operator=(const WorkerStats&) = delete;

  // ---- owner thread only ----
  // The series of (name, labels), created on first use; labels keep the caller's order. The
  // reference stays valid for the life of this object, so callers may keep it as a handle.
  // Looking up an existing series does not allocate. A name should have one type: the
  // exposition drops series whose type differs from the first one seen for their name.
  Counter& counter(std::string_view name, std::span<const Label> labels = {});
  Gauge& gauge(std::string_view name, std::span<const Label> labels = {});
  Histogram& histogram(std::string_view name, std::span<const Label> labels = {});
  Counter& counter(std::string_view name, std::initializer_list<Label> labels) {
    return counter(name, std::span(labels.begin(), labels.size()));
  }
  Gauge& gauge(std::string_view name, std::initializer_list<Label> labels) {
    return gauge(name, std::span(labels.begin(), labels.size()));
  }
  Histogram& histogram(std::string_view name, std::initializer_list<Label> labels) {
    return histogram(name, std::span(labels.begin(), labels.size()));
  }

  // Istio's four request series for one label combination (created on first sighting, then
  // found without allocating), and the once-per-request shortcut at stream end.
  IstioRequestMetrics& istioRequest(const IstioRequestLabels& labels);
  void recordRequest(const IstioRequestLabels& labels, uint64_t duration_ms, uint64_t request_bytes,
                     uint64_t response_bytes) {
    istioRequest(labels).record(duration_ms, request_bytes, response_bytes);
  }

  // ---- any thread ----
  // Calls f(const Series&) for every series created so far, newest first.
  template <class F>
  void forEachSeries(F&& f) const {
    for (const Series* s = head_.load(std::memory_order_acquire); s != nullptr; s = s->next()) {
      f(*s);
    }
  }

 private:
  struct Index;
  Series& find(MetricType type, std::string_view name, std::span<const Label> labels);
  Series& publish(MetricType type, std::string_view name, std::shared_ptr<const LabelSet> labels);

  std::unique_ptr<Index> index_;  // owner thread only
  // The label set of the last istioRequest() and its series (the index's own entry, whose node
  // never moves): consecutive requests of one route and answer mostly share them, and comparing
  // costs a fraction of hashing 25 labels.
  const IstioRequestLabels* last_istio_labels_ = nullptr;
  IstioRequestMetrics* last_istio_ = nullptr;
  std::atomic<Series*> head_{nullptr};
};

}  // namespace halyard::telemetry
