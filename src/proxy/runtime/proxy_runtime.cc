#include "proxy/runtime/proxy_runtime.h"

namespace halyard::proxy::runtime {

ProxyRuntime::ProxyRuntime(RuntimeOptions options, telemetry::StatsStore* stats,
                           telemetry::AccessLogger* access_log, WorkerTelemetry::Workload self)
    : options_(std::move(options)) {
  if (options_.workers == 0) options_.workers = 1;
  for (size_t i = 0; i < options_.workers; ++i) {
    telemetry::WorkerStats* worker_stats =
        stats && i < stats->workerCount() ? &stats->worker(i) : nullptr;
    workers_.push_back(
        std::make_unique<Worker>(i, options_, WorkerTelemetry(worker_stats, access_log, self)));
  }
}

ProxyRuntime::~ProxyRuntime() {
  stop();
}

common::Expected<void> ProxyRuntime::start(std::shared_ptr<const translate::Snapshot> snapshot) {
  for (auto& w : workers_) {
    auto installed = w->install(snapshot);
    if (!installed) return installed;
  }
  snapshot_ = std::move(snapshot);
  for (auto& w : workers_) w->start();
  return common::Ok{};
}

void ProxyRuntime::updateSnapshot(std::shared_ptr<const translate::Snapshot> snapshot) {
  for (auto& w : workers_) w->post(snapshot);
  snapshot_ = std::move(snapshot);
}

void ProxyRuntime::drain() {
  for (auto& w : workers_) w->drain();
}

size_t ProxyRuntime::activeConnections() const {
  size_t n = 0;
  for (const auto& w : workers_) n += w->activeConnections();
  return n;
}

void ProxyRuntime::stop() {
  for (auto& w : workers_) w->stop();
}

}  // namespace halyard::proxy::runtime
