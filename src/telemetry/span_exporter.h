// Finished spans, from the workers to the collectors. Each worker appends to its own SpanBuffer
// (a short lock nobody else holds but the exporter's swap, once a second); the exporter's thread
// takes every buffer's spans, groups them by collector and POSTs each group as one batch: Zipkin
// v2 JSON (POST /api/v2/spans) or OTLP/HTTP JSON (POST /v1/traces). Nothing of this runs on the
// request path; a collector that is down costs a failed POST per second, counted, and the spans
// of that batch are dropped (as Envoy does) rather than piling up.
//
// At 100% sampling every request leaves a span, so the steady state allocates nothing: a buffer
// is two vectors of records that take turns (the worker fills one while the exporter encodes the
// other, then hands it back), and a record's strings are assigned over the previous span's, so
// they keep their capacity; the exporter reuses its request body, and the per-proxy tags are
// encoded once per source rather than once per span.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/json_out.h"
#include "translate/tracing.h"

namespace halyard::telemetry {

// What is the same for every span of a proxy: its service name ("<app>.<namespace>") and the
// tags Istio puts on every span (component, node_id, istio.canonical_service, ...).
struct SpanSource {
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> tags;

  // Encodes the tags once, for every batch after: call after setting them. Without it (or when a
  // provider's maxTagLength clips one of them) they are encoded span by span.
  void encodeTags();
  std::string zipkin_tags;      // "\"k\":\"v\",..." (no braces)
  std::string otlp_attributes;  // "{\"key\":...,\"value\":{...}},..." (no brackets)
  size_t longest_value = 0;
};

// One finished span, as the request path leaves it: plain fields, copied once; names, URLs and
// the tag list are assembled only when a batch is encoded.
struct SpanRecord {
  // The request's strings, end to end in one buffer that keeps its capacity from span to span:
  // one size check and a copy each, where a string per field cost an assign each on the worker.
  enum Text : uint8_t {
    kMethod,
    kAuthority,
    kPath,
    kFlags,            // "" for none
    kUpstreamCluster,  // "" for none
    kPeer,
    kUserAgent,
    kRequestId,
  };
  static constexpr size_t kTexts = 8;
  // Where each text is kept: those a batch's spans share (SharedPieces: the steady tags' method,
  // flags, user agent and cluster; the name's cluster and authority) side by side, so that the
  // exporter compares each group with the previous span's in one go (sameRun).
  static constexpr std::array<Text, kTexts> kStored = {
      kMethod, kFlags, kUserAgent, kUpstreamCluster, kAuthority, kPath, kPeer, kRequestId};
  static constexpr std::array<uint8_t, kTexts> kSlot = [] {
    std::array<uint8_t, kTexts> slot{};
    for (size_t i = 0; i < kTexts; ++i) slot[kStored[i]] = static_cast<uint8_t>(i);
    return slot;
  }();
  std::string_view text(Text which) const {
    const size_t slot = kSlot[which];
    return {texts.data() + text_at[slot], text_at[slot + 1] - text_at[slot]};
  }
  // The texts of slots [first, last) end to end, as stored.
  std::string_view stored(size_t first, size_t last) const {
    return {texts.data() + text_at[first], text_at[last] - text_at[first]};
  }
  // Every text at once, in Text order.
  void setTexts(const std::array<std::string_view, kTexts>& values);
  // One text, the others kept (tests: it copies them all).
  void setText(Text which, std::string_view value);

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
  std::string texts;  // setTexts: never shrunk, so that refilling it writes no fill bytes
  std::array<uint32_t, kTexts + 1> text_at{};  // per slot (kSlot)
  std::vector<std::pair<std::string, std::string>> custom_tags;
  std::shared_ptr<const SpanSource> source;
  std::shared_ptr<const translate::TracingSettings> settings;  // its collectors

  // Appends Istio's operation name: "<service host>:<port>/*" from an outbound cluster name,
  // else "<authority>/*".
  void appendName(std::string& out) const;
};

class SpanBuffer {
 public:
  // A worker that has this many spans waiting wakes the exporter before its second is over
  // (one at 100% sampling serves well over that many requests a second); past kMaxBuffered,
  // spans are dropped and counted.
  static constexpr size_t kFlushAt = 1'024;
  static constexpr size_t kMaxBuffered = 32'768;

  // Fills the next record under the buffer's lock. The record may hold an earlier span: `fill`
  // must assign every field (assigning a string keeps its capacity). True when the buffer has
  // just reached kFlushAt: the caller wakes the exporter (SpanExporter::wake).
  template <class Fill>
  bool add(Fill&& fill) {
    std::lock_guard lock(mu_);
    if (used_ >= kMaxBuffered) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (used_ == filling_.size()) filling_.emplace_back();
    fill(filling_[used_++]);
    return used_ == kFlushAt;
  }

  // The exporter's side: the records added since the last take are the first `count` of
  // `records`; handed back once encoded, to be filled again.
  struct Taken {
    std::vector<SpanRecord> records;
    size_t count = 0;
  };
  Taken take();
  void giveBack(std::vector<SpanRecord> records);
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::vector<SpanRecord> filling_;
  size_t used_ = 0;
  std::vector<SpanRecord> spare_;  // handed back by the exporter
  std::atomic<uint64_t> dropped_{0};
};

class SpanExporter {
 public:
  static SpanExporter& instance();
  ~SpanExporter();

  // A buffer for one worker; the exporter thread starts with the first span added anywhere.
  std::shared_ptr<SpanBuffer> newBuffer();
  void spanAdded();
  // A buffer is filling up: export now rather than at the end of the second.
  void wake();
  // Exports what is buffered now, on the calling thread (tests, and at exit).
  void flush();

  uint64_t exportedSpans() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t failedBatches() const { return failed_.load(std::memory_order_relaxed); }

  // The request bodies, appended to `out`.
  static void appendZipkinJson(common::JsonOut& out, std::span<const SpanRecord* const> spans,
                               size_t max_tag_length);
  static void appendOtlpJson(common::JsonOut& out, std::span<const SpanRecord* const> spans,
                             size_t max_tag_length);
  static std::string zipkinJson(const std::vector<const SpanRecord*>& spans,
                                size_t max_tag_length) {
    common::JsonOut out;
    appendZipkinJson(out, spans, max_tag_length);
    return std::string(out.view());
  }
  static std::string otlpJson(const std::vector<const SpanRecord*>& spans, size_t max_tag_length) {
    common::JsonOut out;
    appendOtlpJson(out, spans, max_tag_length);
    return std::string(out.view());
  }

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
  bool woken_ = false;
  std::mutex flush_mu_;   // one flush at a time; guards body_
  common::JsonOut body_;  // the last batch's request, its capacity kept for the next
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> failed_{0};
};

}  // namespace halyard::telemetry
