// What a listener's requests do for distributed tracing (Listener::tracing), compiled by
// translate/telemetry_config.h from MeshConfig extensionProviders and the Telemetry API, and read
// by the proxy's tracer (src/telemetry/tracer.h). Plain data: no config model here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

struct MetricsSide {
  std::array<bool, kIstioMetricCount> disabled{};
  std::vector<std::string> removed_tags;  // Istio label names ("request_protocol")
  bool anyDisabled() const {
    for (bool d : disabled) {
      if (d) return true;
    }
    return false;
  }
};

// accessLogging's `filter.expression`, the subset the proxy evaluates: comparisons of
// response.code with an integer (==, !=, <, <=, >, >=), joined by && and ||.
struct AccessLogComparison {
  enum class Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
  Op op = Op::kEq;
  int64_t value = 0;
  bool matches(int64_t code) const {
    switch (op) {
      case Op::kEq:
        return code == value;
      case Op::kNe:
        return code != value;
      case Op::kLt:
        return code < value;
      case Op::kLe:
        return code <= value;
      case Op::kGt:
        return code > value;
      case Op::kGe:
        return code >= value;
    }
    return false;
  }
};
using AccessLogFilter = std::vector<std::vector<AccessLogComparison>>;  // OR of ANDs

// nullopt when the expression is outside the subset.
inline std::optional<AccessLogFilter> parseAccessLogFilter(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '(')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == ')')) s.remove_suffix(1);
    return s;
  };
  auto split = [](std::string_view s, std::string_view sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (size_t at; (at = s.find(sep, start)) != std::string_view::npos; start = at + sep.size()) {
      parts.push_back(s.substr(start, at - start));
    }
    parts.push_back(s.substr(start));
    return parts;
  };
  AccessLogFilter out;
  for (std::string_view any : split(text, "||")) {
    std::vector<AccessLogComparison> all;
    for (std::string_view term : split(any, "&&")) {
      term = trim(term);
      constexpr std::string_view kField = "response.code";
      if (!term.starts_with(kField)) return std::nullopt;
      term = trim(term.substr(kField.size()));
      static constexpr std::pair<std::string_view, AccessLogComparison::Op> kOps[] = {
          {"==", AccessLogComparison::Op::kEq}, {"!=", AccessLogComparison::Op::kNe},
          {"<=", AccessLogComparison::Op::kLe}, {">=", AccessLogComparison::Op::kGe},
          {"<", AccessLogComparison::Op::kLt},  {">", AccessLogComparison::Op::kGt}};
      std::optional<AccessLogComparison> c;
      for (const auto& [symbol, op] : kOps) {
        if (!term.starts_with(symbol)) continue;
        std::string_view number = trim(term.substr(symbol.size()));
        if (number.empty() || number.size() > 6) return std::nullopt;
        int64_t v = 0;
        for (char ch : number) {
          if (ch < '0' || ch > '9') return std::nullopt;
          v = v * 10 + (ch - '0');
        }
        c = AccessLogComparison{op, v};
        break;
      }
      if (!c) return std::nullopt;
      all.push_back(*c);
    }
    out.push_back(std::move(all));
  }
  return out;
}

// What the Telemetry API says of a proxy's metrics and access log (Listener::telemetry).
struct ListenerTelemetry {
  MetricsSide client;  // reporter=source: gateway and outbound listeners
  MetricsSide server;  // reporter=destination: inbound listeners
  bool access_log_disabled = false;
  std::string access_log_filter;        // as written ("" for none)
  AccessLogFilter access_log_compiled;  // empty: every request is logged
  std::string origin;

  bool logs(int64_t response_code) const {
    if (access_log_disabled) return false;
    if (access_log_compiled.empty()) return true;
    for (const auto& all : access_log_compiled) {
      bool ok = true;
      for (const auto& c : all) ok = ok && c.matches(response_code);
      if (ok) return true;
    }
    return false;
  }
};

}  // namespace halyard::translate
