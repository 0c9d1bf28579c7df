// The control plane as a Zipkin collector, for the dashboard's recent traces when no collector
// of the user's is configured: the admin listener takes POST /api/v2/spans (Zipkin v2 JSON, an
// array of spans, as the proxies' exporter sends it) and keeps a bounded ring of the most recent
// traces. `halyard control --trace-collector` (on under `halyard up`) makes it the proxies'
// implicit zipkin provider when MeshConfig names no tracing provider (translate/
// telemetry_config.h, setImplicitTracingCollector).
//
// Not thread-safe: the admin listener's thread is its only user.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace halyard::control {

class TraceCollector {
 public:
  // At most `max_traces` traces (the oldest by first span received is dropped first) of at most
  // `max_spans_per_trace` spans each (later spans of a full trace are counted, not kept).
  explicit TraceCollector(size_t max_traces = 200, size_t max_spans_per_trace = 500)
      : max_traces_(max_traces), max_spans_(max_spans_per_trace) {}

  // Takes one POSTed body: a JSON array of Zipkin v2 spans. Spans without traceId or id are
  // skipped; a body that is not a JSON array is refused with the reason.
  common::Expected<size_t> add(std::string_view body);

  // {"traces": [{"trace_id", "root_service", "root_name", "start_us", "duration_us", "spans",
  // "errors", "services"}...]}, newest first, at most `limit`.
  std::string recentJson(size_t limit = 50) const;
  // {"trace_id", "spans": [{"id", "parent_id", "name", "service", "kind", "start_us",
  // "duration_us", "error", "tags"}...]} sorted by start; null "spans" when the trace is unknown.
  std::string traceJson(const std::string& trace_id) const;

  uint64_t spansReceived() const { return received_; }

 private:
  struct Span {
    std::string id, parent_id, name, service, kind;
    int64_t timestamp_us = 0;
    int64_t duration_us = 0;
    bool error = false;
    std::map<std::string, std::string> tags;
  };
  struct Trace {
    std::vector<Span> spans;
    uint64_t dropped = 0;  // spans past the per-trace bound
    uint64_t order = 0;    // when its first span came
  };

  size_t max_traces_;
  size_t max_spans_;
  std::map<std::string, Trace> traces_;
  std::deque<std::pair<uint64_t, std::string>> arrival_;  // (order, trace id), oldest first
  uint64_t next_order_ = 0;
  uint64_t received_ = 0;
};

}  // namespace halyard::control
