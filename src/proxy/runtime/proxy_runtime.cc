#include "proxy/runtime/proxy_runtime.h"

#include <algorithm>

#include "common/log.h"

namespace halyard::proxy::runtime {

ProxyRuntime::ProxyRuntime(RuntimeOptions options, telemetry::StatsStore* stats,
                           telemetry::AccessLogger* access_log, WorkerTelemetry::Workload self)
    : options_(std::move(options)) {
  if (options_.workers == 0) options_.workers = 1;
  if (!options_.shared_upstream)
    options_.shared_upstream = std::make_shared<upstream::SharedUpstream>();
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
    const translate::Snapshot& snapshot, std::vector<std::string>& errors) const {
  errors.clear();
  return tls::TlsContexts::build(snapshot, identity_.get(), errors);
}

void ProxyRuntime::installTls(const translate::Snapshot& snapshot) {
  tls_ = buildTls(snapshot, tls_errors_);
  for (const auto& e : tls_errors_) HLOG_ERROR("tls: {}", e);
  refused_files_.clear();
}

common::Expected<void> ProxyRuntime::start(std::shared_ptr<const translate::Snapshot> snapshot) {
  installTls(*snapshot);
  for (auto& w : workers_) {
    auto installed = w->install(snapshot, tls_);
    if (!installed) return installed;
  }
  snapshot_ = std::move(snapshot);
  for (auto& w : workers_) w->start();
  return common::Ok{};
}

void ProxyRuntime::updateSnapshot(std::shared_ptr<const translate::Snapshot> snapshot) {
  installTls(*snapshot);
  for (auto& w : workers_) w->post(snapshot, tls_);
  snapshot_ = std::move(snapshot);
}

void ProxyRuntime::setWorkloadIdentity(
    std::shared_ptr<const translate::WorkloadIdentity> identity) {
  identity_ = std::move(identity);
  if (!snapshot_) return;
  installTls(*snapshot_);
  for (auto& w : workers_) w->post(snapshot_, tls_);
}

bool ProxyRuntime::reloadChangedTlsFiles() {
  if (!snapshot_ || !tls_ || !tls_->filesChanged()) return false;
  // The files as they are now: a change already refused is not built (and logged) again.
  std::vector<tls::FileStamp> now;
  for (const auto& f : tls_->files()) now.push_back(tls::stampOf(f.path));
  if (now == refused_files_) return false;
  std::vector<std::string> errors;
  auto next = buildTls(*snapshot_, errors);
  std::vector<std::string> broken;
  for (const auto& e : errors) {
    if (std::find(tls_errors_.begin(), tls_errors_.end(), e) == tls_errors_.end()) {
      broken.push_back(e);
    }
  }
  if (!broken.empty()) {
    for (const auto& e : broken) {
      HLOG_ERROR(
          "tls: a certificate file changed but is not usable: {}; the previous "
          "certificates keep serving",
          e);
    }
    refused_files_ = std::move(now);
    return false;
  }
  tls_ = std::move(next);
  tls_errors_ = std::move(errors);
  refused_files_.clear();
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
