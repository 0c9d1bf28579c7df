// The Telemetry API's tagOverrides with operation UPSERT on one of Istio's metrics: a label whose
// value is a CEL expression of the request (translate::TagUpsert, compiled once per config). An
// existing label takes the value; a new name is added as a dimension of that metric.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "telemetry/metrics.h"
#include "translate/tracing.h"

namespace halyard::telemetry {

class TagUpserter {
 public:
  // `base` with the side's upserts for `metric` applied; views into `base`, the side and this
  // object, valid until the next call. `base` itself when no upsert applies to the metric.
  // Steady state does not allocate: the label and value buffers are assigned over.
  std::span<const Label> apply(std::span<const Label> base, const translate::MetricsSide& side,
                               translate::IstioMetric metric,
                               const translate::AccessLogAttributes& request);

 private:
  std::vector<Label> labels_;
  std::vector<std::string> values_;
};

}  // namespace halyard::telemetry
