#include "control/observability/trace_collector.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace halyard::control {

namespace {

std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t micros(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

}  // namespace

common::Expected<size_t> TraceCollector::add(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "the body is not a JSON array of Zipkin v2 spans");
  }
  size_t kept = 0;
  for (const auto& s : doc) {
    if (!s.is_object()) continue;
    const std::string trace_id = text(s, "traceId");
    Span span;
    span.id = text(s, "id");
    if (trace_id.empty() || span.id.empty()) continue;
    ++received_;
    span.parent_id = text(s, "parentId");
    span.name = text(s, "name");
    span.kind = text(s, "kind");
    span.timestamp_us = micros(s, "timestamp");
    span.duration_us = micros(s, "duration");
    if (auto e = s.find("localEndpoint"); e != s.end() && e->is_object()) {
      span.service = text(*e, "serviceName");
    }
    if (auto tags = s.find("tags"); tags != s.end() && tags->is_object()) {
      for (const auto& [k, v] : tags->items()) {
        if (v.is_string()) span.tags[k] = v.get<std::string>();
      }
    }
    // Zipkin marks a failed span with an "error" tag; Istio's proxies also set a 5xx status.
    const auto status = span.tags.find("http.status_code");
    span.error = span.tags.contains("error") ||
                 (status != span.tags.end() && !status->second.empty() && status->second[0] == '5');

    auto [it, inserted] = traces_.try_emplace(trace_id);
    if (inserted) {
      it->second.order = next_order_++;
      arrival_.emplace_back(it->second.order, trace_id);
    }
    if (it->second.spans.size() >= max_spans_) {
      ++it->second.dropped;
      continue;
    }
    it->second.spans.push_back(std::move(span));
    ++kept;
  }
  while (traces_.size() > max_traces_ && !arrival_.empty()) {
    traces_.erase(arrival_.front().second);
    arrival_.pop_front();
  }
  return kept;
}

std::string TraceCollector::recentJson(size_t limit) const {
  using nlohmann::json;
  json list = json::array();
  for (auto a = arrival_.rbegin(); a != arrival_.rend() && list.size() < limit; ++a) {
    auto it = traces_.find(a->second);
    if (it == traces_.end() || it->second.spans.empty()) continue;
    const auto& spans = it->second.spans;
    // The root: the span without a parent; while it has not arrived (each proxy exports on its
    // own schedule), the earliest one.
    const Span* root = nullptr;
    int64_t start = INT64_MAX, end = INT64_MIN;
    size_t errors = 0;
    std::set<std::string> services;
    for (const auto& s : spans) {
      if (s.parent_id.empty() && !root) root = &s;
      start = std::min(start, s.timestamp_us);
      end = std::max(end, s.timestamp_us + s.duration_us);
      errors += s.error ? 1 : 0;
      if (!s.service.empty()) services.insert(s.service);
    }
    if (!root) {
      root = &*std::min_element(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
        return x.timestamp_us < y.timestamp_us;
      });
    }
    list.push_back({{"trace_id", it->first},
                    {"root_service", root->service},
                    {"root_name", root->name},
                    {"complete", root->parent_id.empty()},
                    {"start_us", start},
                    {"duration_us", end - start},
                    {"spans", spans.size() + it->second.dropped},
                    {"errors", errors},
                    {"services", std::vector<std::string>(services.begin(), services.end())}});
  }
  return json{{"traces", std::move(list)}, {"spans_received", received_}}.dump();
}

std::string TraceCollector::traceJson(const std::string& trace_id) const {
  using nlohmann::json;
  auto it = traces_.find(trace_id);
  if (it == traces_.end()) return json{{"trace_id", trace_id}, {"spans", nullptr}}.dump();
  std::vector<const Span*> spans;
  for (const auto& s : it->second.spans) spans.push_back(&s);
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Span* a, const Span* b) { return a->timestamp_us < b->timestamp_us; });
  json list = json::array();
  for (const Span* s : spans) {
    list.push_back({{"id", s->id},
                    {"parent_id", s->parent_id},
                    {"name", s->name},
                    {"service", s->service},
                    {"kind", s->kind},
                    {"start_us", s->timestamp_us},
                    {"duration_us", s->duration_us},
                    {"error", s->error},
                    {"tags", s->tags}});
  }
  return json{{"trace_id", trace_id}, {"spans", std::move(list)}}.dump();
}

}  // namespace halyard::control
