// Everything the request path reports about one finished request to telemetry: the access log
// entry (views into the connection's buffers, valid during the report only) and what the
// metrics' labels need besides it.
#pragma once

#include <string_view>

#include "telemetry/access_log_entry.h"
#include "telemetry/peer_identity.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

struct RequestRecord {
  telemetry::AccessLogEntry log;
  const translate::Cluster* cluster = nullptr;    // the chosen destination, if any
  const translate::Endpoint* endpoint = nullptr;  // the endpoint of the last attempt, if any
  std::string_view listener;                      // ListenerInfo::name
  translate::ListenerKind listener_kind = translate::ListenerKind::kGateway;
  // kInbound: the caller, from its x-halyard-peer header (has_peer false: none or malformed).
  bool has_peer = false;
  telemetry::PeerIdentity peer;
  std::string_view peer_principal;  // "spiffe://..." or empty
  bool retried = false;
  bool upstream_timeout = false;
};

}  // namespace halyard::proxy::runtime
