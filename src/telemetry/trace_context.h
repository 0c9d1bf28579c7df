// One request's place in a distributed trace, at one proxy hop: what came in (W3C traceparent,
// B3 single or multi headers), the span this hop records, and the headers it sends upstream.
//
// Only requests on a listener with tracing (translate::Listener::tracing) get a context; the
// others pass trace headers through untouched. A request with no incoming context starts a
// trace, sampled at the configured percentage (from its x-request-id by default, as Envoy does
// for Istio's useRequestIdForTraceSampling, so that every hop decides alike); one with a context
// keeps its trace id and its sampling decision, and this hop's span is the child of the incoming
// span. Upstream, both W3C
// (traceparent) and B3 multi headers carry this hop's span as the parent, so applications that
// forward either kind keep the trace together.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "translate/tracing.h"

namespace halyard::telemetry {

class TraceContext {
 public:
  using Settings = std::shared_ptr<const translate::TracingSettings>;

  // The propagation headers of an incoming request, gathered in one pass over its fields (the
  // first of each name counts); a view with no data: the header is absent.
  struct Incoming {
    std::string_view traceparent, b3, trace_id, span_id, sampled, flags;
    // Keeps `value` when `lowercase_name` is one of the propagation headers.
    void offer(std::string_view lowercase_name, std::string_view value);
  };

  // Starts this hop's span from the request's fields (a range of elements with lowercase `name`
  // and `value` views). `random` gives independent 64-bit values (ids, and sampling when the
  // settings say so or there is no `request_id`, the request's x-request-id).
  template <class Fields, class Random>
  void begin(Settings settings, const Fields& fields, Random&& random,
             std::string_view request_id = {}) {
    settings_ = std::move(settings);
    if (!settings_) return;
    Incoming incoming;
    for (const auto& f : fields) incoming.offer(f.name, f.value);
    const bool decided = extract(incoming);
    if (!has_trace_) {
      hex(random(), trace_id_.data());
      hex(random(), trace_id_.data() + 16);
    }
    if (!decided) {
      sampled_ = settings_->sample_by_request_id && !request_id.empty()
                     ? sampleRequestId(settings_->sampling_percentage, request_id)
                     : sample(random());
    }
    hex(random(), span_id_.data());
    if (sampled_ && !settings_->custom_tags.empty()) {
      captureTags([&fields](std::string_view name) -> std::optional<std::string_view> {
        for (const auto& f : fields) {
          if (f.name == name) return std::string_view(f.value);
        }
        return std::nullopt;
      });
    }
    render();
  }

  void reset() {
    settings_.reset();
    has_trace_ = has_parent_ = sampled_ = false;
    tag_values_.clear();
  }

  bool active() const { return settings_ != nullptr; }
  bool sampled() const { return sampled_; }
  const translate::TracingSettings* settings() const { return settings_.get(); }
  const Settings& sharedSettings() const { return settings_; }
  std::string_view traceId() const { return {trace_id_.data(), 32}; }
  std::string_view spanId() const { return {span_id_.data(), 16}; }
  std::string_view parentId() const {
    return has_parent_ ? std::string_view(parent_id_.data(), 16) : std::string_view();
  }
  // Custom tags resolved when the request came in (literal, header, environment).
  const std::vector<std::pair<std::string, std::string>>& customTags() const { return tag_values_; }

  // The trace headers this hop sends upstream: push(name, value), views into this object.
  template <class Push>
  void forEachHeader(Push&& push) const {
    if (!active()) return;
    push(std::string_view("traceparent"), std::string_view(traceparent_.data(), 55));
    push(std::string_view("x-b3-traceid"), traceId());
    push(std::string_view("x-b3-spanid"), spanId());
    if (has_parent_) push(std::string_view("x-b3-parentspanid"), parentId());
    push(std::string_view("x-b3-sampled"), std::string_view(sampled_ ? "1" : "0"));
  }

  // The same headers as HTTP/1.1 text ("name: value\r\n" each, in forEachHeader's order),
  // rendered once per request: an HTTP/1.1 upstream head appends the block in one copy instead
  // of five checked header appends (empty when not active).
  std::string_view http1Block() const {
    return active() ? std::string_view(block_.data(), block_size_) : std::string_view();
  }

  // Headers replaced by forEachHeader when tracing is active (tracestate passes unchanged).
  static bool isPropagationHeader(std::string_view lowercase_name);

  // Envoy's decision from a request id (its UUID request-id extension): the number in the id's
  // last eight hex digits, modulo 10,000, against the percentage in hundredths. An id that is
  // not a UUID is hashed instead, so that its hops still agree (Envoy would not sample it).
  static bool sampleRequestId(double percentage, std::string_view request_id);

 private:
  // Reads the incoming context; true when it also carried a sampling decision.
  bool extract(const Incoming& incoming);
  bool sample(uint64_t random) const;
  // The custom tags' values; `header` finds a request header by lowercase name.
  template <class Lookup>
  void captureTags(Lookup&& header) {
    for (const auto& t : settings_->custom_tags) {
      std::optional<std::string_view> h;
      if (t.kind == translate::TracingCustomTag::Kind::kHeader) h = header(t.value);
      tag_values_.emplace_back(t.tag, tagValue(t, h));
    }
  }
  static std::string tagValue(const translate::TracingCustomTag& tag,
                              std::optional<std::string_view> header);
  void render();
  static void hex(uint64_t v, char* out);

  Settings settings_;
  bool has_trace_ = false;
  bool has_parent_ = false;
  bool sampled_ = false;
  std::array<char, 32> trace_id_{};
  std::array<char, 16> span_id_{};
  std::array<char, 16> parent_id_{};
  std::array<char, 55> traceparent_{};  // 00-<trace>-<span>-<flags>
  // http1Block(): the five headers at their longest (with x-b3-parentspanid).
  static constexpr size_t kBlockRoom =
      13 + 55 + 2 + 14 + 32 + 2 + 13 + 16 + 2 + 19 + 16 + 2 + 14 + 1 + 2;
  std::array<char, kBlockRoom> block_{};
  size_t block_size_ = 0;
  std::vector<std::pair<std::string, std::string>> tag_values_;
};

namespace trace_detail {
// `n` is `name`, its size already known to be the literal's: compared by a memcmp of constant
// size, which the compiler turns into a load or two (string_view's == called compare() out of
// line from here).
template <size_t N>
inline bool is(std::string_view n, const char (&name)[N]) {
  return std::memcmp(n.data(), name, N - 1) == 0;
}
}  // namespace trace_detail

[[gnu::always_inline]] inline void TraceContext::Incoming::offer(std::string_view n,
                                                                 std::string_view v) {
  // Most fields fail the first test: every propagation header starts with 't', 'b' or 'x'
  // (inline, as isPropagationHeader).
  if (n.empty() || (n[0] != 't' && n[0] != 'b' && n[0] != 'x')) return;
  auto keep = [v](std::string_view& slot) {
    if (slot.data() == nullptr) slot = v.data() ? v : std::string_view("", 0);
  };
  switch (n.size()) {
    case 2:
      if (trace_detail::is(n, "b3")) keep(b3);
      break;
    case 10:
      if (trace_detail::is(n, "x-b3-flags")) keep(flags);
      break;
    case 11:
      if (trace_detail::is(n, "traceparent")) {
        keep(traceparent);
      } else if (trace_detail::is(n, "x-b3-spanid")) {
        keep(span_id);
      }
      break;
    case 12:
      if (trace_detail::is(n, "x-b3-traceid")) {
        keep(trace_id);
      } else if (trace_detail::is(n, "x-b3-sampled")) {
        keep(sampled);
      }
      break;
    default:
      break;
  }
}

[[gnu::always_inline]] inline bool TraceContext::isPropagationHeader(std::string_view n) {
  // Asked of every header a traced request forwards: most fail on the length or the first byte
  // (inline: a call per header cost more than the test).
  switch (n.size()) {
    case 2:
      return trace_detail::is(n, "b3");
    case 10:
      return trace_detail::is(n, "x-b3-flags");
    case 11:
      return n[0] == 't' ? trace_detail::is(n, "traceparent") : trace_detail::is(n, "x-b3-spanid");
    case 12:
      return n[0] == 'x' &&
             (trace_detail::is(n, "x-b3-traceid") || trace_detail::is(n, "x-b3-sampled"));
    case 17:
      return trace_detail::is(n, "x-b3-parentspanid");
    default:
      return false;
  }
}

}  // namespace halyard::telemetry
