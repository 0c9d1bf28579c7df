// One request's place in a distributed trace, at one proxy hop: what came in (W3C traceparent,
// B3 single or multi headers), the span this hop records, and the headers it sends upstream.
//
// Only requests on a listener with tracing (translate::Listener::tracing) get a context; the
// others pass trace headers through untouched. A request with no incoming context starts a
// trace, sampled at the configured percentage; one with a context keeps its trace id and its
// sampling decision, and this hop's span is the child of the incoming span. Upstream, both W3C
// (traceparent) and B3 multi headers carry this hop's span as the parent, so applications that
// forward either kind keep the trace together.
#pragma once

#include <array>
#include <cstdint>
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
  // The incoming request's header value by lowercase name.
  using HeaderLookup = std::optional<std::string_view> (*)(const void* request,
                                                           std::string_view name);

  // Starts this hop's span. `random` gives three independent 64-bit values (ids and sampling).
  template <class Random>
  void begin(Settings settings, const void* request, HeaderLookup header, Random&& random) {
    settings_ = std::move(settings);
    if (!settings_) return;
    const bool decided = extract(request, header);
    if (!has_trace_) {
      hex(random(), trace_id_.data());
      hex(random(), trace_id_.data() + 16);
    }
    if (!decided) sampled_ = sample(random());
    hex(random(), span_id_.data());
    captureTags(request, header);
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

  // Headers replaced by forEachHeader when tracing is active (tracestate passes unchanged).
  static bool isPropagationHeader(std::string_view lowercase_name);

 private:
  // Reads the incoming context; true when it also carried a sampling decision.
  bool extract(const void* request, HeaderLookup header);
  bool sample(uint64_t random) const;
  void captureTags(const void* request, HeaderLookup header);
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
  std::vector<std::pair<std::string, std::string>> tag_values_;
};

}  // namespace halyard::telemetry
