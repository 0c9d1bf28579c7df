// Finished spans, from the workers to the collectors. Each worker appends to its own SpanBuffer
// (a short lock nobody else holds but the exporter's swap, once a second); the exporter's thread
// takes every buffer's spans, groups them by collector and POSTs each group as one batch: Zipkin
// v2 JSON (POST /api/v2/spans) or OTLP/HTTP JSON (POST /v1/traces). Nothing of this runs on the
// request path; a collector that is down costs a failed POST per second, counted, and the spans
// of that batch are dropped (as Envoy does) rather than piling up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "translate/tracing.h"

namespace halyard::telemetry {

struct SpanRecord {
  std::string trace_id;   // 32 hex
  std::string span_id;    // 16 hex
  std::string parent_id;  // 16 hex, "" for a root span
  std::string name;       // Istio's: "<service host>:<port>/*"
  bool server = false;    // SERVER (inbound) or CLIENT (gateway, outbound)
  int64_t start_us = 0;   // since the epoch
  int64_t duration_us = 0;
  std::string service_name;  // "<canonical service>.<namespace>"
  bool error = false;
  std::vector<std::pair<std::string, std::string>> tags;
  std::shared_ptr<const translate::TracingSettings> settings;  // its collectors
};

class SpanBuffer {
 public:
  static constexpr size_t kMaxBuffered = 10'000;  // per worker, between two flushes

  void add(SpanRecord span);
  std::vector<SpanRecord> take();
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::vector<SpanRecord> spans_;
  std::atomic<uint64_t> dropped_{0};
};

class SpanExporter {
 public:
  static SpanExporter& instance();
  ~SpanExporter();

  // A buffer for one worker; the exporter thread starts with the first span added anywhere.
  std::shared_ptr<SpanBuffer> newBuffer();
  void spanAdded();
  // Exports what is buffered now, on the calling thread (tests, and at exit).
  void flush();

  uint64_t exportedSpans() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t failedBatches() const { return failed_.load(std::memory_order_relaxed); }

  // The request bodies (for tests).
  static std::string zipkinJson(const std::vector<const SpanRecord*>& spans, size_t max_tag_length);
  static std::string otlpJson(const std::vector<const SpanRecord*>& spans, size_t max_tag_length);

 private:
  SpanExporter() = default;
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::weak_ptr<SpanBuffer>> buffers_;
  std::thread thread_;
  bool started_ = false;
  bool stopping_ = false;
  std::mutex flush_mu_;  // one flush at a time
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> failed_{0};
};

}  // namespace halyard::telemetry
