// The proxy's own counters and gauges, under Envoy's Prometheus names so existing dashboards
// and `istioctl` habits carry over. Each bundle resolves its handles once (that allocates, on
// first use of a listener or cluster); using the handles afterwards is free.
#pragma once

#include <string_view>

#include "telemetry/worker_stats.h"

namespace halyard::telemetry {

// Per HTTP listener, labelled http_conn_manager_prefix (e.g. "outbound_0.0.0.0_80").
struct DownstreamStats {
  Counter* cx_total = nullptr;  // envoy_http_downstream_cx_total
  Gauge* cx_active = nullptr;   // envoy_http_downstream_cx_active
  Counter* rq_total = nullptr;  // envoy_http_downstream_rq_total
  // TLS listeners: envoy_listener_ssl_handshake / envoy_listener_ssl_connection_error
  Counter* ssl_handshake = nullptr;
  Counter* ssl_connection_error = nullptr;
  // Plaintext connections a STRICT mutual TLS inbound listener refused (Envoy finds no filter
  // chain for them): envoy_listener_no_filter_chain_match
  Counter* no_filter_chain_match = nullptr;
  // Requests and TCP connections AuthorizationPolicy denied (Envoy's RBAC filters' "denied"):
  // envoy_http_rbac_denied / envoy_tcp_rbac_denied, labelled like the listener's other stats.
  Counter* http_rbac_denied = nullptr;
  Counter* tcp_rbac_denied = nullptr;

  static DownstreamStats resolve(WorkerStats& stats, std::string_view listener);
};

// Per upstream cluster, labelled cluster_name.
struct UpstreamStats {
  Counter* cx_total = nullptr;              // envoy_cluster_upstream_cx_total
  Gauge* cx_active = nullptr;               // envoy_cluster_upstream_cx_active
  Counter* cx_connect_fail = nullptr;       // envoy_cluster_upstream_cx_connect_fail
  Counter* rq_total = nullptr;              // envoy_cluster_upstream_rq_total
  Counter* rq_timeout = nullptr;            // envoy_cluster_upstream_rq_timeout
  Counter* rq_retry = nullptr;              // envoy_cluster_upstream_rq_retry
  Counter* ssl_handshake = nullptr;         // envoy_cluster_ssl_handshake
  Counter* ssl_connection_error = nullptr;  // envoy_cluster_ssl_connection_error
  // Circuit breakers and outlier detection (DestinationRule traffic policy).
  Counter* rq_pending_overflow = nullptr;  // envoy_cluster_upstream_rq_pending_overflow
  Counter* cx_overflow = nullptr;          // envoy_cluster_upstream_cx_overflow
  Counter* rq_retry_overflow = nullptr;    // envoy_cluster_upstream_rq_retry_overflow
  // envoy_cluster_outlier_detection_ejections_enforced_total, _consecutive_5xx,
  // _consecutive_gateway_failure, _consecutive_local_origin_failure; and _overflow (an ejection
  // maxEjectionPercent refused)
  Counter* ejections_enforced_total = nullptr;
  Counter* ejections_consecutive_5xx = nullptr;
  Counter* ejections_consecutive_gateway = nullptr;
  Counter* ejections_consecutive_local_origin = nullptr;
  Counter* ejections_overflow = nullptr;

  static UpstreamStats resolve(WorkerStats& stats, std::string_view cluster);
};

// Process-wide, on the main thread's stats.
struct ServerStats {
  Counter* config_reload_ok = nullptr;        // halyard_config_reloads_total{result="ok"}
  Counter* config_reload_rejected = nullptr;  // halyard_config_reloads_total{result="rejected"}
  Gauge* config_version = nullptr;            // halyard_config_version: the serving snapshot
  Counter* control_ack = nullptr;   // halyard_control_answers_total{answer="ack"}: pushes applied
  Counter* control_nack = nullptr;  // halyard_control_answers_total{answer="nack"}: refused

  static ServerStats resolve(WorkerStats& main_thread_stats);
};

}  // namespace halyard::telemetry
