#include "proxy/runtime/proxy_runtime.h"

#include "common/log.h"

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

std::shared_ptr<const tls::TlsContexts> ProxyRuntime::buildTls(
    const translate::Snapshot& snapshot) const {
  std::vector<std::string> errors;
  auto contexts = tls::TlsContexts::build(snapshot, errors);
  for (const auto& e : errors) HLOG_ERROR("tls: {}", e);
  return contexts;
}

common::Expected<void> ProxyRuntime::start(std::shared_ptr<const translate::Snapshot> snapshot) {
  tls_ = buildTls(*snapshot);
  for (auto& w : workers_) {
    auto installed = w->install(snapshot, tls_);
    if (!installed) return installed;
  }
  snapshot_ = std::move(snapshot);
  for (auto& w : workers_) w->start();
  return common::Ok{};
}

void ProxyRuntime::updateSnapshot(std::shared_ptr<const translate::Snapshot> snapshot) {
  tls_ = buildTls(*snapshot);
  for (auto& w : workers_) w->post(snapshot, tls_);
  snapshot_ = std::move(snapshot);
}

bool ProxyRuntime::reloadChangedTlsFiles() {
  if (!snapshot_ || !tls_ || !tls_->filesChanged()) return false;
  tls_ = buildTls(*snapshot_);
  for (auto& w : workers_) w->post(snapshot_, tls_);
  HLOG_INFO("tls: a certificate file changed; new handshakes use it");
  return true;
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
