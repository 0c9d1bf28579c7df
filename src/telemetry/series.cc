#include "telemetry/series.h"

namespace halyard::telemetry {

LabelSet::LabelSet(std::span<const Label> labels) {
  size_t n = 0;
  for (const Label& l : labels) n += l.name.size() + l.value.size();
  chars_.reserve(n);  // views are taken after every append, so no reallocation moves them
  for (const Label& l : labels) {
    chars_.append(l.name);
    chars_.append(l.value);
  }
  labels_.reserve(labels.size());
  std::string_view all = chars_;
  size_t pos = 0;
  for (const Label& l : labels) {
    std::string_view name = all.substr(pos, l.name.size());
    pos += l.name.size();
    std::string_view value = all.substr(pos, l.value.size());
    pos += l.value.size();
    labels_.push_back({name, value});
  }
}

Series::Series(MetricType type, std::string_view name, std::shared_ptr<const LabelSet> labels,
               const Series* next)
    : type_(type), name_(name), labels_(std::move(labels)), next_(next) {
  // Cells are atomics (neither copyable nor movable), so the alternative is chosen in place.
  switch (type) {
    case MetricType::kCounter:
      cell_.emplace<Counter>();
      break;
    case MetricType::kGauge:
      cell_.emplace<Gauge>();
      break;
    case MetricType::kHistogram:
      cell_.emplace<Histogram>();
      break;
  }
}

}  // namespace halyard::telemetry
