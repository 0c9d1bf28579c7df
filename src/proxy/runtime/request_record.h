// Everything the request path reports about one finished request to telemetry: the access log
// entry (views into the connection's buffers, valid during the report only) and what the
// metrics' labels need besides it.
#pragma once

#include <string_view>

#include "telemetry/access_log_entry.h"
#include "translate/snapshot.h"

namespace halyard::proxy::runtime {

struct RequestRecord {
  telemetry::AccessLogEntry log;
  const translate::Cluster* cluster = nullptr;  // the chosen destination, if any
  std::string_view listener;                    // ListenerInfo::name
  bool retried = false;
  bool upstream_timeout = false;
};

}  // namespace halyard::proxy::runtime
