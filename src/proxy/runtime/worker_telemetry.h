// The request path's one door to telemetry, per worker: Envoy-style counters and gauges, Istio's
// request metrics and the access log. Everything it touches belongs to this worker's thread
// (telemetry/worker_stats.h explains why scrapes need no lock).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/runtime/request_record.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/outlier_detector.h"
#include "telemetry/access_logger.h"
#include "telemetry/proxy_stats.h"
#include "telemetry/span_exporter.h"
#include "telemetry/worker_stats.h"

namespace halyard::proxy::runtime {

class WorkerTelemetry {
 public:
  // Who this proxy is: the source_* labels of what it reports as the caller (gateway and
  // outbound listeners, reporter=source), the destination_* labels of what its inbound listener
  // receives (reporter=destination).
  struct Workload {
    std::string workload = "unknown";
    std::string namespace_ = "unknown";
    std::string app = "unknown";        // labels["app"], else the workload name
    std::string version = "unknown";    // labels["version"]
    std::string principal = "unknown";  // spiffe://cluster.local/ns/<ns>/sa/<sa> when it has one
    std::string revision = "latest";    // translate::canonicalRevision(labels)
    // translate::canonicalService(labels, workload); empty: the app.
    std::string canonical_service{};
  };

  // `stats` and `access_log` may be null (tests, or telemetry turned off).
  WorkerTelemetry(telemetry::WorkerStats* stats, telemetry::AccessLogger* access_log,
                  Workload self);

  // The Istio labels of one finished request (views into `record` and this object).
  telemetry::IstioRequestLabels istioLabels(const RequestRecord& record) const;

  void connectionOpened(std::string_view listener);
  void connectionClosed(std::string_view listener);
  void upstreamConnect(const translate::Cluster& cluster, bool ok);
  // A connectionPool limit refused a request, connection or retry.
  void upstreamOverflow(const translate::Cluster& cluster, upstream::Overflow which);
  // Outlier detection ejected a host (or maxEjectionPercent kept it in: kOverflow).
  void outlierEjection(const translate::Cluster& cluster, upstream::Ejection why);
  // A TLS handshake on a listener (downstream) or to a cluster's endpoint (upstream).
  void tlsHandshake(std::string_view listener, bool ok);
  void upstreamTlsHandshake(const translate::Cluster& cluster, bool ok);
  void plaintextRefused(std::string_view listener);
  // A request (tcp false) or a TCP connection an AuthorizationPolicy denied.
  void rbacDenied(std::string_view listener, bool tcp);
  // The verdict of the dry-run (istio.io/dry-run) DENY or ALLOW policies for a request or TCP
  // connection: envoy_{http,tcp}_rbac_istio_dry_run_{allow,deny}_shadow_{allowed,denied}, as
  // Istio's shadow RBAC filters count them. Made on first use: dry-run is opt-in.
  void rbacShadow(std::string_view listener, bool tcp, bool allow_policies, bool allowed);
  void requestDone(const RequestRecord& record);
  // A TCP proxy connection (tcp_proxy.h): opened once its destination is chosen; done at close,
  // with its access log line (HTTP fields empty) and Istio's TCP byte counters.
  void tcpOpened(const RequestRecord& record);
  void tcpDone(const RequestRecord& record, bool opened);
  // Writes buffered access log lines (on a timer and at exit).
  void flush();

 private:
  telemetry::DownstreamStats& downstream(std::string_view listener);
  telemetry::UpstreamStats& upstream(const translate::Cluster& cluster);
  template <class F>
  // Calls f(labelsOf, side): labelsOf(metric) gives that TCP metric's labels (the Telemetry
  // API's tagOverrides applied: UPSERT values set, REMOVE tags left empty), side the overrides
  // of the connection's side (null: none).
  void withTcpLabels(const RequestRecord& record, F&& f);
  // The span of a sampled request, to this worker's buffer (telemetry/span_exporter.h).
  void recordSpan(const RequestRecord& record);
  // The access log lines of a request or TCP connection: one per sink of its side whose filter
  // it passes (no Telemetry: the proxy's own --access-log).
  void logRequest(const RequestRecord& record);
  // Istio's request metrics with the Telemetry API's overrides (metrics off, tags removed).
  void recordOverridden(const RequestRecord& record, const translate::MetricsSide& side);

  telemetry::WorkerStats* stats_;
  Workload self_;
  std::unique_ptr<telemetry::AccessLogWriter> writer_;
  // Transparent lookup: finding a listener's or cluster's handles allocates nothing.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using ByName = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;
  ByName<telemetry::DownstreamStats> downstream_;
  ByName<telemetry::UpstreamStats> upstream_;
  // The entries found last: a run of requests on one listener and cluster compares a name
  // instead of hashing it (map nodes do not move, so the pointers stay valid).
  ByName<telemetry::DownstreamStats>::value_type* last_downstream_ = nullptr;
  ByName<telemetry::UpstreamStats>::value_type* last_upstream_ = nullptr;
  std::shared_ptr<telemetry::SpanBuffer> spans_;  // made at the first sampled request
  std::shared_ptr<const telemetry::SpanSource> span_source_;
};

}  // namespace halyard::proxy::runtime
