// Finished spans, from the workers to the collectors. Each worker appends to its own SpanBuffer
// (a short lock nobody else holds but the exporter's swap, once a second); the exporter's thread
// takes every buffer's spans, groups them by collector and POSTs each group as one batch: Zipkin
// v2 JSON (POST /api/v2/spans) or OTLP/HTTP JSON (POST /v1/traces). Nothing of this runs on the
// request path; a collector that is down costs a failed POST per second, counted, and the spans
// of that batch are dropped (as Envoy does) rather than piling up.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "translate/tracing.h"

namespace halyard::telemetry {

// What is the same for every span of a proxy: its service name ("<app>.<namespace>") and the
// tags Istio puts on every span (component, node_id, istio.canonical_service, ...).
struct SpanSource {
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> tags;
};

// One finished span, as the request path leaves it: plain fields, copied once (short strings stay
// in place); names, URLs and the tag list are assembled only when a batch is encoded.
struct SpanRecord {
  std::array<char, 32> trace_id{};  // hex
  std::array<char, 16> span_id{};
  std::array<char, 16> parent_id{};
  bool has_parent = false;
  bool server = false;  // SERVER (inbound) or CLIENT (gateway, outbound)
  bool error = false;
  uint16_t status = 0;
  int64_t start_us = 0;  // since the epoch
  int64_t duration_us = 0;
  uint64_t request_size = 0;
  uint64_t response_size = 0;
  std::string_view protocol = "HTTP/1.1";  // a literal
  std::string method;
  std::string authority;
  std::string path;
  std::string flags;             // "" for none
  std::string upstream_cluster;  // "" for none
  std::string peer;
  std::string user_agent;
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> custom_tags;
  std::shared_ptr<const SpanSource> source;
  std::shared_ptr<const translate::TracingSettings> settings;  // its collectors

  // Istio's operation name: "<service host>:<port>/*" from an outbound cluster name, else
  // "<authority>/*".
  std::string name() const;
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
  std::atomic<bool> thread_started_{false};
  bool stopping_ = false;
  std::mutex flush_mu_;  // one flush at a time
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> failed_{0};
};

}  // namespace halyard::telemetry
