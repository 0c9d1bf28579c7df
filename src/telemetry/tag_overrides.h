// The Telemetry API's tagOverrides on Istio's metrics (translate::TagUpsert, compiled once per
// config). UPSERT: a label whose value is a CEL expression of the request; an existing label takes
// the value, a new name is added as a dimension of that metric. REMOVE: the label is emptied.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "telemetry/metrics.h"
#include "translate/tracing.h"

namespace halyard::telemetry {

class TagUpserter {
 public:
  // Evaluates the side's UPSERT values for one request, once: every metric's labels take them
  // from here (apply). Steady state does not allocate: the value buffers are assigned over.
  void evaluate(const translate::MetricsSide& side, const translate::AccessLogAttributes& request);
  // `base` with the side's overrides for `metric` applied, the values of the last evaluate();
  // views into `base`, the side and this object, valid until the next call. `base` itself when
  // no override applies to the metric.
  std::span<const Label> apply(std::span<const Label> base, const translate::MetricsSide& side,
                               translate::IstioMetric metric);

 private:
  std::vector<Label> labels_;
  std::vector<std::string> values_;
};

}  // namespace halyard::telemetry
