#include "proxy/runtime/worker_telemetry.h"

namespace halyard::proxy::runtime {

WorkerTelemetry::WorkerTelemetry(telemetry::WorkerStats* stats, telemetry::AccessLogger* access_log,
                                 Source source)
    : stats_(stats), source_(std::move(source)) {
  if (access_log) writer_ = std::make_unique<telemetry::AccessLogWriter>(*access_log);
}

telemetry::DownstreamStats& WorkerTelemetry::downstream(std::string_view listener) {
  auto it = downstream_.find(listener);
  if (it == downstream_.end()) {
    it = downstream_
             .emplace(std::string(listener), telemetry::DownstreamStats::resolve(*stats_, listener))
             .first;
  }
  return it->second;
}

telemetry::UpstreamStats& WorkerTelemetry::upstream(const translate::Cluster& cluster) {
  auto it = upstream_.find(cluster.name);
  if (it == upstream_.end()) {
    it = upstream_.emplace(cluster.name, telemetry::UpstreamStats::resolve(*stats_, cluster.name))
             .first;
  }
  return it->second;
}

void WorkerTelemetry::connectionOpened(std::string_view listener) {
  if (!stats_) return;
  auto& s = downstream(listener);
  s.cx_total->inc();
  s.cx_active->add(1);
}

void WorkerTelemetry::connectionClosed(std::string_view listener) {
  if (!stats_) return;
  downstream(listener).cx_active->sub(1);
}

void WorkerTelemetry::upstreamConnect(const translate::Cluster& cluster, bool ok) {
  if (!stats_) return;
  auto& s = upstream(cluster);
  s.cx_total->inc();
  if (!ok) s.cx_connect_fail->inc();
}

void WorkerTelemetry::requestDone(const RequestRecord& record) {
  if (writer_) writer_->log(record.log);
  if (!stats_) return;
  downstream(record.listener).rq_total->inc();
  telemetry::IstioRequestLabels labels;
  labels.source_workload = source_.workload;
  labels.source_canonical_service = source_.app;
  labels.source_workload_namespace = source_.namespace_;
  labels.source_app = source_.app;
  if (record.cluster) {
    const translate::Cluster& c = *record.cluster;
    auto& us = upstream(c);
    us.rq_total->inc();
    if (record.retried) us.rq_retry->inc();
    if (record.upstream_timeout) us.rq_timeout->inc();
    labels.destination_service = c.service_host;
    labels.destination_service_name = c.service_name;
    labels.destination_service_namespace = c.service_namespace;
    labels.destination_canonical_service = c.service_name;
    labels.destination_workload_namespace = c.service_namespace;
  } else if (!record.log.authority.empty()) {
    labels.destination_service = record.log.authority;  // Istio falls back to the Host header
  }
  labels.response_code = record.log.response_code;
  labels.response_flags = record.log.response_flags;
  stats_->recordRequest(labels, static_cast<uint64_t>(record.log.duration.count()),
                        record.log.bytes_received, record.log.bytes_sent);
}

void WorkerTelemetry::flush() {
  if (writer_) writer_->flush();
}

}  // namespace halyard::proxy::runtime
