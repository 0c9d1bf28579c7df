#include "telemetry/stats_store.h"

#include "telemetry/prometheus.h"

namespace halyard::telemetry {

StatsStore::StatsStore(size_t workers) {
  all_.reserve(workers + 1);
  for (size_t i = 0; i < workers + 1; ++i) all_.push_back(std::make_unique<WorkerStats>());
}

std::string StatsStore::renderPrometheus(std::string_view build_tag, const re2::RE2* filter) const {
  std::vector<const WorkerStats*> stats;
  stats.reserve(all_.size());
  for (const auto& ws : all_) stats.push_back(ws.get());
  return telemetry::renderPrometheus(stats, build_tag, filter);
}

}  // namespace halyard::telemetry
