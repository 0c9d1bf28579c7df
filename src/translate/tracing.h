// What a listener's requests do for distributed tracing (Listener::tracing), compiled by
// translate/telemetry_config.h from MeshConfig extensionProviders and the Telemetry API, and read
// by the proxy's tracer (src/telemetry/tracer.h). Plain data: no config model here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  std::vector<TracingCustomTag> custom_tags;
  // Where the settings came from, for config_dump ("Telemetry istio-system/mesh-default, ...").
  std::string origin;
};

}  // namespace halyard::translate
