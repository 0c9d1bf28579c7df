// Owns the stats of every thread of the proxy: one WorkerStats per worker and one for the main
// thread. Created before the workers start and destroyed after they are joined; the set never
// changes in between, so handing out references and scraping need no synchronisation.
#pragma once

#include <re2/re2.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/worker_stats.h"

namespace halyard::telemetry {

class StatsStore {
 public:
  explicit StatsStore(size_t workers);

  size_t workerCount() const { return all_.size() - 1; }
  // Written only by worker i's thread.
  WorkerStats& worker(size_t i) { return *all_[i + 1]; }
  // Written only by the main thread (config reloads and other process-wide counters).
  WorkerStats& mainThread() { return *all_[0]; }

  // The merged Prometheus exposition; any thread, any time. `filter`: only the families whose
  // name it matches (telemetry/prometheus.h).
  std::string renderPrometheus(std::string_view build_tag, const re2::RE2* filter = nullptr) const;

 private:
  std::vector<std::unique_ptr<WorkerStats>> all_;
};

}  // namespace halyard::telemetry
