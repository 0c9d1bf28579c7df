// What a listener's requests do for distributed tracing (Listener::tracing), compiled by
// translate/telemetry_config.h from MeshConfig extensionProviders and the Telemetry API, and read
// by the proxy's tracer (src/telemetry/tracer.h). Plain data: no config model here.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "translate/access_log_filter.h"
#include "translate/access_log_template.h"

namespace halyard::translate {

struct TracingProvider {
  enum class Kind : uint8_t { kZipkin, kOpenTelemetry };
  std::string name;  // the extensionProviders name
  Kind kind = Kind::kZipkin;
  // The collector: `service` as written, its host part (the FQDN or "ns/host" form reduced to
  // the host; an IP or a name the proxy resolves), and its port.
  std::string host;
  uint16_t port = 0;
  std::string path;  // zipkin: /api/v2/spans; opentelemetry (OTLP/HTTP): http.path or /v1/traces
  uint32_t max_tag_length = 256;
};

struct TracingCustomTag {
  enum class Kind : uint8_t { kLiteral, kHeader, kEnvironment };
  std::string tag;
  Kind kind = Kind::kLiteral;
  std::string value;          // literal: the value; header / environment: the name
  std::string default_value;  // header / environment: when absent
};

struct TracingSettings {
  std::vector<TracingProvider> providers;  // empty: spans are not reported
  double sampling_percentage = 1.0;  // of requests that start a trace here (Istio's default 1%)
  // Telemetry useRequestIdForTraceSampling (Istio's default true): the sampling decision of a
  // request that starts a trace comes from its x-request-id, so every hop that sees the same id
  // decides alike; false: a random draw per request.
  bool sample_by_request_id = true;
  std::vector<TracingCustomTag> custom_tags;
  // Where the settings came from, for config_dump ("Telemetry istio-system/mesh-default, ...").
  std::string origin;
};

// Telemetry `metrics` overrides for one proxy: Istio's standard metrics switched off, and tags
// removed (operation REMOVE), for its client side (gateway, outbound) or server side (inbound).
enum class IstioMetric : uint8_t {
  kRequestCount,
  kRequestDuration,
  kRequestSize,
  kResponseSize,
  kTcpOpenedConnections,
  kTcpClosedConnections,
  kTcpSentBytes,
  kTcpReceivedBytes,
};
inline constexpr size_t kIstioMetricCount = 8;
// The Telemetry API's names, in IstioMetric order.
inline constexpr std::array<std::string_view, kIstioMetricCount> kIstioMetricNames = {
    "REQUEST_COUNT",          "REQUEST_DURATION",       "REQUEST_SIZE",   "RESPONSE_SIZE",
    "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES", "TCP_RECEIVED_BYTES"};

// A tagOverrides entry of the metrics it applies to, in the order they apply. Operation UPSERT
// (Istio's default): the label gets the value of a CEL expression of the request
// (access_log_filter.h's attributes, parseAttributeValue), an existing one replaced, a new name
// added as a dimension of the metric. REMOVE (`remove`): the label goes from those metrics.
struct TagUpsert {
  std::string tag;
  bool remove = false;
  std::string value;  // as written (UPSERT)
  AccessLogFilter compiled;
  std::array<bool, kIstioMetricCount> metrics{};  // the metrics it applies to
};

struct MetricsSide {
  std::array<bool, kIstioMetricCount> disabled{};
  std::vector<TagUpsert> upserts;  // tagOverrides, UPSERT and REMOVE alike
  bool anyDisabled() const {
    for (bool d : disabled) {
      if (d) return true;
    }
    return false;
  }
};

// Where and how one access log provider writes: a MeshConfig envoyFileAccessLog, or Istio's
// built-in "envoy" (path empty: the proxy's own access log, its --access-log, else /dev/stdout;
// MeshConfig accessLogFile gives it a path).
struct AccessLogProvider {
  enum class Encoding : uint8_t { kDefaultText, kDefaultJson, kText, kLabels };
  std::string name;
  std::string path;  // "/dev/stdout", "/dev/stderr" or a file opened for appending
  Encoding encoding = Encoding::kDefaultText;
  std::string text;                                         // kText, as written
  std::vector<std::pair<std::string, std::string>> labels;  // kLabels, as written, in order
  std::shared_ptr<const AccessLogTemplate> compiled;        // kText and kLabels
  std::string problem;  // an unusable logFormat, reported where the provider is used (not sent)
};

// The provider's logFormat compiled (AccessLogTemplate); an unusable one is reported to
// `problems` and the provider keeps Istio's default format. Inline: the proxy compiles the
// formats of its snapshot again (wire/snapshot_codec.cc).
inline void compileAccessLogFormat(AccessLogProvider& provider,
                                   std::vector<std::string>* problems) {
  using E = AccessLogProvider::Encoding;
  if (provider.encoding != E::kText && provider.encoding != E::kLabels) return;
  auto compiled = provider.encoding == E::kText ? AccessLogTemplate::parseText(provider.text)
                                                : AccessLogTemplate::parseLabels(provider.labels);
  if (auto* t = std::get_if<AccessLogTemplate>(&compiled)) {
    provider.compiled = std::make_shared<const AccessLogTemplate>(std::move(*t));
    return;
  }
  provider.problem = "MeshConfig extensionProviders " + provider.name +
                     " logFormat: " + std::get<std::string>(compiled) +
                     "; Istio's default format is used";
  provider.encoding = E::kDefaultText;
  provider.compiled.reset();
  if (problems) problems->push_back(provider.problem);
}

// One destination of a listener side's access log: a provider and the filter of the
// accessLogging entry that sends requests to it. Istio merges a proxy's entries per provider, so
// a provider appears at most once per side and a request is logged to it at most once.
struct AccessLogSink {
  AccessLogProvider provider;  // unused when own_log
  // The proxy's own --access-log (in its --access-log-format): no provider is named by the
  // Telemetry, MeshConfig defaultProviders or accessLogFile.
  bool own_log = false;
  std::string filter;        // as written ("" for none)
  AccessLogFilter compiled;  // empty: every request
};

// What the Telemetry API says of a proxy's metrics and access log (Listener::telemetry).
struct ListenerTelemetry {
  MetricsSide client;  // reporter=source: gateway and outbound listeners
  MetricsSide server;  // reporter=destination: inbound listeners
  // Where each side's requests are logged (Istio's accessLogging entries merged for mode CLIENT
  // and SERVER); empty: nowhere (disabled, or every provider left out).
  std::vector<AccessLogSink> client_logs;
  std::vector<AccessLogSink> server_logs;
  // Every provider of either side, once (their paths: telemetry/access_logger.h usePaths).
  std::vector<AccessLogProvider> access_log_providers;
  std::string origin;

  const std::vector<AccessLogSink>& logsOf(bool inbound) const {
    return inbound ? server_logs : client_logs;
  }
  // Whether a side logs `request` to the provider named `provider` ("" for the proxy's own log):
  // for tests and tools, not the request path.
  bool logs(bool inbound, const std::string& provider, const AccessLogAttributes& request) const {
    for (const auto& sink : logsOf(inbound)) {
      const bool named = sink.own_log ? provider.empty() : sink.provider.name == provider;
      if (named) return sink.compiled.matches(request);
    }
    return false;
  }
  bool logs(bool inbound, const std::string& provider, int64_t response_code) const {
    AccessLogAttributes request;
    request.response_code = response_code;
    return logs(inbound, provider, request);
  }
};

}  // namespace halyard::translate
