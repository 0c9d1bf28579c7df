#include "telemetry/proxy_stats.h"

namespace halyard::telemetry {

DownstreamStats DownstreamStats::resolve(WorkerStats& stats, std::string_view listener) {
  const Label l{"http_conn_manager_prefix", listener};
  return DownstreamStats{
      &stats.counter("envoy_http_downstream_cx_total", {l}),
      &stats.gauge("envoy_http_downstream_cx_active", {l}),
      &stats.counter("envoy_http_downstream_rq_total", {l}),
      &stats.counter("envoy_listener_ssl_handshake", {{"listener_address", listener}}),
      &stats.counter("envoy_listener_ssl_connection_error", {{"listener_address", listener}}),
      &stats.counter("envoy_listener_no_filter_chain_match", {{"listener_address", listener}}),
      &stats.counter("envoy_http_rbac_denied", {l}),
      &stats.counter("envoy_tcp_rbac_denied", {{"listener_address", listener}}),
  };
}

UpstreamStats UpstreamStats::resolve(WorkerStats& stats, std::string_view cluster) {
  const Label l{"cluster_name", cluster};
  return UpstreamStats{
      &stats.counter("envoy_cluster_upstream_cx_total", {l}),
      &stats.gauge("envoy_cluster_upstream_cx_active", {l}),
      &stats.counter("envoy_cluster_upstream_cx_connect_fail", {l}),
      &stats.counter("envoy_cluster_upstream_rq_total", {l}),
      &stats.counter("envoy_cluster_upstream_rq_timeout", {l}),
      &stats.counter("envoy_cluster_upstream_rq_retry", {l}),
      &stats.counter("envoy_cluster_ssl_handshake", {l}),
      &stats.counter("envoy_cluster_ssl_connection_error", {l}),
      &stats.counter("envoy_cluster_upstream_rq_pending_overflow", {l}),
      &stats.counter("envoy_cluster_upstream_cx_overflow", {l}),
      &stats.counter("envoy_cluster_upstream_rq_retry_overflow", {l}),
      &stats.counter("envoy_cluster_outlier_detection_ejections_enforced_total", {l}),
      &stats.counter("envoy_cluster_outlier_detection_ejections_enforced_consecutive_5xx", {l}),
      &stats.counter(
          "envoy_cluster_outlier_detection_ejections_enforced_consecutive_gateway_failure", {l}),
      &stats.counter(
          "envoy_cluster_outlier_detection_ejections_enforced_consecutive_local_origin_failure",
          {l}),
      &stats.counter("envoy_cluster_outlier_detection_ejections_overflow", {l}),
  };
}

ServerStats ServerStats::resolve(WorkerStats& stats) {
  return ServerStats{
      &stats.counter("halyard_config_reloads_total", {{"result", "ok"}}),
      &stats.counter("halyard_config_reloads_total", {{"result", "rejected"}}),
      &stats.gauge("halyard_config_version"),
      &stats.counter("halyard_control_answers_total", {{"answer", "ack"}}),
      &stats.counter("halyard_control_answers_total", {{"answer", "nack"}}),
  };
}

}  // namespace halyard::telemetry
