// The two access log encodings Istio configures Envoy with by default.
#pragma once

#include <chrono>
#include <string>

#include "telemetry/access_log_entry.h"
#include "translate/access_log_template.h"

namespace halyard::telemetry {

// Istio's default TEXT line (meshConfig.accessLogEncoding TEXT), newline included:
// [START_TIME] "METHOD PATH PROTOCOL" RESPONSE_CODE RESPONSE_FLAGS RESPONSE_CODE_DETAILS
// CONNECTION_TERMINATION_DETAILS "UPSTREAM_TRANSPORT_FAILURE_REASON" BYTES_RECEIVED BYTES_SENT
// DURATION UPSTREAM_SERVICE_TIME "X-FORWARDED-FOR" "USER-AGENT" "X-REQUEST-ID" "AUTHORITY"
// "UPSTREAM_HOST" UPSTREAM_CLUSTER UPSTREAM_LOCAL_ADDRESS DOWNSTREAM_LOCAL_ADDRESS
// DOWNSTREAM_REMOTE_ADDRESS REQUESTED_SERVER_NAME ROUTE_NAME
// Values are printed as they are: the HTTP codec has already rejected CR and LF in them.
void appendTextLine(std::string& out, const AccessLogEntry& e);

// Istio's default JSON line (accessLogEncoding JSON), one object and a newline. Keys in Istio's
// order; response_code, bytes_* and duration are numbers, empty values are null, strings are
// JSON-escaped.
void appendJsonLine(std::string& out, const AccessLogEntry& e);

// A provider's own logFormat: its `text` (a newline added when it has none, as Istio does; an
// empty value prints "-"), or its `labels` as one JSON object per line (a label that is one
// numeric command is a number, an empty value null, anything else a string).
void appendTemplateLine(std::string& out, const AccessLogEntry& e,
                        const translate::AccessLogTemplate& format);

// "2026-12-01T08:00:00.000Z": UTC, milliseconds, as Envoy prints %START_TIME%.
void appendStartTime(std::string& out, std::chrono::system_clock::time_point t);

}  // namespace halyard::telemetry
