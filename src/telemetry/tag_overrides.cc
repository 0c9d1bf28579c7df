#include "telemetry/tag_overrides.h"

namespace halyard::telemetry {

void TagUpserter::evaluate(const translate::MetricsSide& side,
                           const translate::AccessLogAttributes& request) {
  // Sized before any view is taken: the strings must not move while labels_ views them.
  if (values_.size() < side.upserts.size()) values_.resize(side.upserts.size());
  for (size_t i = 0; i < side.upserts.size(); ++i) {
    values_[i].clear();
    if (!side.upserts[i].remove) side.upserts[i].compiled.appendValue(values_[i], request);
  }
}

std::span<const Label> TagUpserter::apply(std::span<const Label> base,
                                          const translate::MetricsSide& side,
                                          translate::IstioMetric metric) {
  const auto m = static_cast<size_t>(metric);
  bool any = false;
  for (const auto& u : side.upserts) any = any || u.metrics[m];
  if (!any) return base;
  labels_.assign(base.begin(), base.end());
  for (size_t i = 0; i < side.upserts.size(); ++i) {
    const translate::TagUpsert& u = side.upserts[i];
    if (!u.metrics[m]) continue;
    if (u.remove) {
      // A label with an empty value is no label to Prometheus: the series goes without it.
      for (auto& label : labels_) {
        if (label.name == u.tag) label.value = {};
      }
      continue;
    }
    const std::string& value = values_[i];
    bool found = false;
    for (auto& label : labels_) {
      if (label.name != u.tag) continue;
      label.value = value;
      found = true;
    }
    if (!found) labels_.push_back(Label{u.tag, value});
  }
  return labels_;
}

}  // namespace halyard::telemetry
