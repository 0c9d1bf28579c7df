// Tracing as Istio configures it: the MeshConfig's extensionProviders (zipkin, opentelemetry,
// envoyFileAccessLog) and defaultProviders, and the Telemetry API (telemetry.istio.io
// Telemetry: root namespace = mesh, a namespace without selector = that namespace, a selector or
// targetRef = a workload; the more specific one overrides, field by field) resolved for one proxy
// into what its listeners carry (Listener::tracing).
//
// Read from the ConfigMap istio-system/istio (key `mesh`) independently of mesh_settings.h, so
// the two stay separate; an unusable provider is reported and left out, never guessed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model/config_set.h"
#include "translate/tracing.h"

namespace halyard::translate {

// The providers MeshConfig declares, by name, and the names of its defaultProviders.tracing.
struct MeshTelemetry {
  std::map<std::string, TracingProvider> tracing_providers;
  std::map<std::string, std::string> access_log_files;  // envoyFileAccessLog: name -> path
  std::map<std::string, AccessLogProvider> access_log_providers;  // envoyFileAccessLog by name
  std::vector<std::string> default_access_logging;                // defaultProviders.accessLogging
  // accessLogFile, accessLogEncoding and accessLogFormat: Istio's built-in "envoy" provider.
  AccessLogProvider envoy_provider;
  std::vector<std::string> default_tracing;
  double default_sampling = 1.0;  // defaultConfig.tracing.sampling
  bool enable_tracing = true;     // enableTracing
  std::string root_namespace = "istio-system";
  std::vector<std::string> problems;
  // The collector proxies report to when MeshConfig declares no tracing provider at all
  // (setImplicitTracingCollector); a declared provider always takes priority.
  std::optional<TracingProvider> implicit_collector;
};

// `halyard control --trace-collector`: the control plane's own Zipkin collector becomes every
// proxy's tracing provider while MeshConfig declares no zipkin or opentelemetry provider
// (sampling: MeshConfig's defaultConfig.tracing.sampling, 1% by default, unless a Telemetry
// sets randomSamplingPercentage; disableSpanReporting and enableTracing: false still turn it
// off). nullopt: none. Process-wide; read at each readMeshTelemetry.
void setImplicitTracingCollector(std::optional<TracingProvider> collector);

MeshTelemetry readMeshTelemetry(const config::model::ConfigSet& config);

// The tracing of a proxy, per side: `client` for its gateway and outbound listeners, `server`
// for its inbound ones (the same pointer when no entry tells them apart; null: no spans).
struct TracingSides {
  std::shared_ptr<const TracingSettings> client;
  std::shared_ptr<const TracingSettings> server;
};

// The tracing of a proxy in `ns` with `labels`: every `tracing` entry of the mesh, namespace and
// workload Telemetry, in that order, sets what it names (providers, randomSamplingPercentage,
// customTags, disableSpanReporting) on the sides its match.mode gives, as Istio merges them.
// Problems (a provider name MeshConfig does not declare, a sampling percentage out of range, a
// field the proxy does not serve) go to `problems` when given, with file:line where they have one.
TracingSides resolveTracingSides(const config::model::ConfigSet& config, const MeshTelemetry& mesh,
                                 const std::string& root_namespace, const std::string& ns,
                                 const std::map<std::string, std::string>& labels,
                                 std::vector<std::string>* problems = nullptr);

// The client side of resolveTracingSides (both sides when no entry names one).
std::shared_ptr<const TracingSettings> resolveTracing(
    const config::model::ConfigSet& config, const MeshTelemetry& mesh,
    const std::string& root_namespace, const std::string& ns,
    const std::map<std::string, std::string>& labels, std::vector<std::string>* problems = nullptr);

// The Telemetry API's `metrics` (overrides: match.metric / ALL_METRICS, match.mode, disabled,
// tagOverrides with operation REMOVE or UPSERT and a CEL value; the overrides of the mesh,
// namespace and workload Telemetry apply in that order, each over what came before, as Istio's
// mergeMetrics) and `accessLogging` for a proxy. Every accessLogging entry of the
// mesh, namespace and workload Telemetry applies, merged as Istio merges them, per side (CLIENT:
// gateway and outbound listeners, SERVER: inbound): each entry has its providers (else those of
// the entry before it, else MeshConfig defaultProviders.accessLogging, else the built-in "envoy"
// when accessLogFile is set, else the proxy's own --access-log), match.mode, disabled and
// filter.expression; a narrower scope that names providers for a side replaces the wider ones'.
// A provider gets one line per request at most, with the filter of the last entry that applies
// to it (`mesh` declares the providers; without it only "envoy" is known). Null: nothing set.
std::shared_ptr<const ListenerTelemetry> resolveListenerTelemetry(
    const config::model::ConfigSet& config, const std::string& root_namespace,
    const std::string& ns, const std::map<std::string, std::string>& labels,
    std::vector<std::string>* problems = nullptr, const MeshTelemetry* mesh = nullptr);

}  // namespace halyard::translate
