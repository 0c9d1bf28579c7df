// Everything the request path reports about one finished request to telemetry: the access log
// entry (views into the connection's buffers, valid during the report only) and what the
// metrics' labels need besides it.
#pragma once

#include <string_view>

#include "telemetry/access_log_entry.h"
#include "telemetry/peer_identity.h"
#include "telemetry/trace_context.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

struct RequestRecord {
  telemetry::AccessLogEntry log;
  const translate::Cluster* cluster = nullptr;    // the chosen destination, if any
  const translate::Endpoint* endpoint = nullptr;  // the endpoint of the last attempt, if any
  std::string_view listener;                      // ListenerInfo::name
  translate::ListenerKind listener_kind = translate::ListenerKind::kGateway;
  // kInbound: the caller over mutual TLS (has_peer false on plaintext): namespace and service
  // account from its certificate, workload, app and version from x-halyard-peer-metadata.
  bool has_peer = false;
  bool mutual_tls = false;
  telemetry::PeerIdentity peer;
  std::string_view peer_principal;  // the client certificate's SPIFFE ID, or empty
  std::string_view own_principal;   // this proxy's SPIFFE ID on a mutual TLS connection
  // Outbound: the SPIFFE ID of the upstream's certificate (Istio mutual TLS), or empty.
  std::string_view upstream_principal;
  bool retried = false;
  // A gRPC request (request_protocol "grpc") and the grpc-status it ended with, if any.
  bool grpc = false;
  std::string_view grpc_status;
  bool upstream_timeout = false;
  const telemetry::TraceContext* trace = nullptr;  // set when the listener traces requests
  // The Telemetry API's metrics and access log settings of the listener the request came in by.
  const translate::ListenerTelemetry* telemetry = nullptr;
};

}  // namespace halyard::proxy::runtime
