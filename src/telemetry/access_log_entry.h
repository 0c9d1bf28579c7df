// What the connection manager knows about one finished request (or TCP connection), for the
// access log. Views: they only need to live during AccessLogWriter::log().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/header_lookup.h"
#include "telemetry/response_flags.h"

namespace halyard::telemetry {

// Empty strings print as "-" in the text format and as null in JSON; for TCP the HTTP fields
// stay empty.
struct AccessLogEntry {
  std::chrono::system_clock::time_point start_time;
  std::string_view method;
  std::string_view path;       // x-envoy-original-path if set (before rewrites), else :path
  std::string_view protocol;   // "HTTP/1.1"
  uint16_t response_code = 0;  // 0 when no response was sent
  ResponseFlags response_flags;
  std::string_view response_code_details;  // "via_upstream", "route_not_found", ...
  std::string_view connection_termination_details;
  std::string_view upstream_transport_failure_reason;
  uint64_t bytes_received = 0;  // from downstream
  uint64_t bytes_sent = 0;      // to downstream
  std::chrono::milliseconds duration{0};
  std::chrono::microseconds duration_us{0};  // the same, finer (a span's duration); 0: not kept
  std::optional<std::chrono::milliseconds> upstream_service_time;  // x-envoy-upstream-service-time
  std::string_view x_forwarded_for;
  std::string_view user_agent;
  std::string_view request_id;
  std::string_view authority;
  std::string_view upstream_host;     // "10.0.0.7:8080"
  std::string_view upstream_cluster;  // "outbound|80||reviews.default.svc.cluster.local"
  std::string_view upstream_local_address;
  std::string_view downstream_local_address;
  std::string_view downstream_remote_address;
  std::string_view requested_server_name;  // SNI
  std::string_view route_name;
  // Mesh mutual TLS (JSON only, as Envoy's %DOWNSTREAM_PEER_URI_SAN% / %UPSTREAM_PEER_URI_SAN%):
  // the client's SPIFFE ID on an inbound listener, the upstream's on the way out.
  std::string_view downstream_peer_uri_san;
  std::string_view upstream_peer_uri_san;
  // Every request header, for %REQ(name)% of a provider's logFormat, request.headers['name'] of
  // filters and metric tag values; unset for TCP connections.
  common::HeaderLookup request_headers;
};

}  // namespace halyard::telemetry
