#include "telemetry/worker_stats.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <string>
#include <unordered_map>

namespace halyard::telemetry {

namespace {

// Lookup key of a series; its views point into the series itself, so the map owns no strings.
struct SeriesKey {
  MetricType type;
  std::string_view name;
  std::span<const Label> labels;

  friend bool operator==(const SeriesKey& a, const SeriesKey& b) {
    return a.type == b.type && a.name == b.name &&
           std::equal(a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end());
  }
};

struct SeriesKeyHash {
  size_t operator()(const SeriesKey& k) const {
    std::hash<std::string_view> h;
    size_t v = h(k.name) ^ static_cast<size_t>(k.type);
    for (const Label& l : k.labels) {
      v = v * 1099511628211ULL ^ h(l.name);
      v = v * 1099511628211ULL ^ h(l.value);
    }
    return v;
  }
};

}  // namespace

struct WorkerStats::Index {
  std::unordered_map<SeriesKey, Series*, SeriesKeyHash> series;
  std::unordered_map<IstioRequestLabels, IstioRequestMetrics, IstioRequestLabelsHash> istio;
};

WorkerStats::WorkerStats() : index_(std::make_unique<Index>()) {}

WorkerStats::~WorkerStats() {
  index_.reset();  // its keys view the series' strings
  const Series* s = head_.load(std::memory_order_acquire);
  while (s != nullptr) {
    const Series* next = s->next();
    delete s;
    s = next;
  }
}

Series& WorkerStats::publish(MetricType type, std::string_view name,
                             std::shared_ptr<const LabelSet> labels) {
  auto* s = new Series(type, name, std::move(labels), head_.load(std::memory_order_relaxed));
  head_.store(s, std::memory_order_release);  // see the header: publishes a complete series
  return *s;
}

Series& WorkerStats::find(MetricType type, std::string_view name, std::span<const Label> labels) {
  if (auto it = index_->series.find(SeriesKey{type, name, labels}); it != index_->series.end()) {
    return *it->second;
  }
  Series& s = publish(type, name, std::make_shared<const LabelSet>(labels));
  index_->series.emplace(SeriesKey{type, s.name(), s.labels()}, &s);
  return s;
}

Counter& WorkerStats::counter(std::string_view name, std::span<const Label> labels) {
  return *find(MetricType::kCounter, name, labels).counter();
}

Gauge& WorkerStats::gauge(std::string_view name, std::span<const Label> labels) {
  return *find(MetricType::kGauge, name, labels).gauge();
}

Histogram& WorkerStats::histogram(std::string_view name, std::span<const Label> labels) {
  return *find(MetricType::kHistogram, name, labels).histogram();
}

IstioRequestMetrics& WorkerStats::istioRequest(const IstioRequestLabels& labels) {
  if (last_istio_labels_ && *last_istio_labels_ == labels) return *last_istio_;
  if (auto it = index_->istio.find(labels); it != index_->istio.end()) {
    last_istio_labels_ = &it->first;
    last_istio_ = &it->second;
    return it->second;
  }

  char code_buf[8];
  auto [end, ec] = std::to_chars(code_buf, code_buf + sizeof code_buf, labels.response_code);
  (void)ec;  // a uint16_t always fits
  const std::string flags = labels.response_flags.toString();
  auto set = std::make_shared<const LabelSet>(
      istioLabels(labels, std::string_view(code_buf, end - code_buf), flags));

  IstioRequestMetrics m;
  m.requests_total = publish(MetricType::kCounter, kIstioRequestsTotal, set).counter();
  m.duration_ms = publish(MetricType::kHistogram, kIstioRequestDuration, set).histogram();
  m.request_bytes = publish(MetricType::kHistogram, kIstioRequestBytes, set).histogram();
  m.response_bytes = publish(MetricType::kHistogram, kIstioResponseBytes, set).histogram();

  std::array<Label, kIstioLabelCount> owned;
  std::copy(set->labels().begin(), set->labels().end(), owned.begin());
  auto added = index_->istio.emplace(rebindIstioLabels(labels, owned), m).first;
  last_istio_labels_ = &added->first;
  last_istio_ = &added->second;
  return added->second;
}

}  // namespace halyard::telemetry
