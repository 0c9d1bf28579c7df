// Prometheus text exposition (format 0.0.4) of every thread's stats, merged.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "telemetry/worker_stats.h"

namespace halyard::telemetry {

// Sums series with the same name and labels across `stats` (counters, gauges, histogram buckets
// and sums) and prints, per metric name in byte order, a `# TYPE` line and the series ordered by
// their labels; histograms as cumulative _bucket{le=...} lines, _sum and _count. Adds
// istio_build{component="proxy",tag=build_tag} 1. Safe to call from any thread while the owners
// record (see worker_stats.h). With `filter`, only the families whose name the regular expression
// finds a match in are printed (Envoy's /stats/prometheus?filter=REGEX: a partial match, `^...$`
// for the whole name); the others are not even summed.
std::string renderPrometheus(std::span<const WorkerStats* const> stats, std::string_view build_tag,
                             const re2::RE2* filter = nullptr);

// The `filter` parameter of an admin query string ("filter=%5Eistio_&usedonly"), percent-decoded
// and compiled (RE2 syntax, as Envoy's). Null when the query has none or it is empty; an error
// naming the expression when it does not compile.
common::Expected<std::unique_ptr<const re2::RE2>> prometheusFilter(std::string_view query);

// Appends `value` with backslash, double quote and newline escaped for a label value.
void appendEscapedLabelValue(std::string& out, std::string_view value);

}  // namespace halyard::telemetry
