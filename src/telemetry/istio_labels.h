// The label set of Istio's standard HTTP/gRPC request metrics (istio_requests_total and the
// duration and size histograms), with the metric names.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "telemetry/metrics.h"
#include "telemetry/response_flags.h"

namespace halyard::telemetry {

inline constexpr std::string_view kIstioRequestsTotal = "istio_requests_total";
inline constexpr std::string_view kIstioRequestDuration = "istio_request_duration_milliseconds";
inline constexpr std::string_view kIstioRequestBytes = "istio_request_bytes";
inline constexpr std::string_view kIstioResponseBytes = "istio_response_bytes";

// Istio's TCP metrics: the labels of the request metrics without response_code and
// grpc_response_status (request_protocol "tcp").
inline constexpr std::string_view kIstioTcpOpened = "istio_tcp_connections_opened_total";
inline constexpr std::string_view kIstioTcpClosed = "istio_tcp_connections_closed_total";
inline constexpr std::string_view kIstioTcpSentBytes = "istio_tcp_sent_bytes_total";
inline constexpr std::string_view kIstioTcpReceivedBytes = "istio_tcp_received_bytes_total";

inline constexpr std::string_view kUnknown = "unknown";

// Views: they need to stay valid only during the call that records them (the first sighting of
// a combination copies the strings). Defaults are Istio's values for missing peer information.
struct IstioRequestLabels {
  std::string_view reporter = "source";  // "source" for gateways and client sidecars
  std::string_view source_workload = kUnknown;
  std::string_view source_canonical_service = kUnknown;
  std::string_view source_canonical_revision = "latest";
  std::string_view source_workload_namespace = kUnknown;
  std::string_view source_principal = kUnknown;
  std::string_view source_app = kUnknown;
  std::string_view source_version = kUnknown;
  std::string_view source_cluster = kUnknown;
  std::string_view destination_workload = kUnknown;
  std::string_view destination_workload_namespace = kUnknown;
  std::string_view destination_principal = kUnknown;
  std::string_view destination_app = kUnknown;
  std::string_view destination_version = kUnknown;
  std::string_view destination_service = kUnknown;
  std::string_view destination_canonical_service = kUnknown;
  std::string_view destination_canonical_revision = "latest";
  std::string_view destination_service_name = kUnknown;
  std::string_view destination_service_namespace = kUnknown;
  std::string_view destination_cluster = kUnknown;
  std::string_view request_protocol = "http";  // http, grpc
  uint16_t response_code = 0;                  // 0 when no response was sent
  std::string_view grpc_response_status;       // empty for non-gRPC
  ResponseFlags response_flags;
  std::string_view connection_security_policy = kUnknown;  // always unknown on the client side

  // Every field equal. Asked once per request (the worker's memo of the last label set), so it
  // compares the numbers first and short strings inline rather than through string_view's
  // out-of-line compare (about 1,100 instructions per request for the defaulted one).
  friend bool operator==(const IstioRequestLabels& a, const IstioRequestLabels& b);
};

inline constexpr size_t kIstioLabelCount = 25;

// The labels in Istio's order; `code` and `flags` hold the rendered response code and flags and
// must outlive the result.
std::array<Label, kIstioLabelCount> istioLabels(const IstioRequestLabels& l, std::string_view code,
                                                std::string_view flags);

// A copy of `l` whose string fields view the values of `labels` (an istioLabels() result).
IstioRequestLabels rebindIstioLabels(const IstioRequestLabels& l,
                                     const std::array<Label, kIstioLabelCount>& labels);

// Hash of the label values, for the per-worker lookup.
struct IstioRequestLabelsHash {
  size_t operator()(const IstioRequestLabels& l) const;
};

// The four request series of one label set.
struct IstioRequestMetrics {
  Counter* requests_total = nullptr;
  Histogram* duration_ms = nullptr;
  Histogram* request_bytes = nullptr;
  Histogram* response_bytes = nullptr;

  void record(uint64_t duration, uint64_t req_bytes, uint64_t resp_bytes) {
    requests_total->inc();
    duration_ms->record(duration);
    request_bytes->record(req_bytes);
    response_bytes->record(resp_bytes);
  }
};

}  // namespace halyard::telemetry
