// Prometheus text exposition (format 0.0.4) of every thread's stats, merged.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "telemetry/worker_stats.h"

namespace halyard::telemetry {

// Sums series with the same name and labels across `stats` (counters, gauges, histogram buckets
// and sums) and prints, per metric name in byte order, a `# TYPE` line and the series ordered by
// their labels; histograms as cumulative _bucket{le=...} lines, _sum and _count. Adds
// istio_build{component="proxy",tag=build_tag} 1. Safe to call from any thread while the owners
// record (see worker_stats.h).
std::string renderPrometheus(std::span<const WorkerStats* const> stats, std::string_view build_tag);

// Appends `value` with backslash, double quote and newline escaped for a label value.
void appendEscapedLabelValue(std::string& out, std::string_view value);

}  // namespace halyard::telemetry
