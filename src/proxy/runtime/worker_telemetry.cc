#include "proxy/runtime/worker_telemetry.h"

#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <span>

#include "telemetry/tag_overrides.h"

namespace halyard::proxy::runtime {

WorkerTelemetry::WorkerTelemetry(telemetry::WorkerStats* stats, telemetry::AccessLogger* access_log,
                                 Workload self)
    : stats_(stats), self_(std::move(self)) {
  if (access_log) writer_ = std::make_unique<telemetry::AccessLogWriter>(*access_log);
  if (self_.canonical_service.empty()) self_.canonical_service = self_.app;
}

telemetry::DownstreamStats& WorkerTelemetry::downstream(std::string_view listener) {
  if (last_downstream_ && last_downstream_->first == listener) return last_downstream_->second;
  auto it = downstream_.find(listener);
  if (it == downstream_.end()) {
    it = downstream_
             .emplace(std::string(listener), telemetry::DownstreamStats::resolve(*stats_, listener))
             .first;
  }
  last_downstream_ = &*it;
  return it->second;
}

telemetry::UpstreamStats& WorkerTelemetry::upstream(const translate::Cluster& cluster) {
  if (last_upstream_ && last_upstream_->first == cluster.name) return last_upstream_->second;
  auto it = upstream_.find(cluster.name);
  if (it == upstream_.end()) {
    it = upstream_.emplace(cluster.name, telemetry::UpstreamStats::resolve(*stats_, cluster.name))
             .first;
  }
  last_upstream_ = &*it;
  return it->second;
}

void WorkerTelemetry::connectionOpened(std::string_view listener) {
  if (!stats_) return;
  auto& s = downstream(listener);
  s.cx_total->inc();
  s.cx_active->add(1);
}

void WorkerTelemetry::tlsHandshake(std::string_view listener, bool ok) {
  if (!stats_) return;
  auto& s = downstream(listener);
  (ok ? s.ssl_handshake : s.ssl_connection_error)->inc();
}

void WorkerTelemetry::plaintextRefused(std::string_view listener) {
  if (!stats_) return;
  downstream(listener).no_filter_chain_match->inc();
}

void WorkerTelemetry::rbacDenied(std::string_view listener, bool tcp) {
  if (!stats_) return;
  auto& s = downstream(listener);
  (tcp ? s.tcp_rbac_denied : s.http_rbac_denied)->inc();
}

void WorkerTelemetry::rbacShadow(std::string_view listener, bool tcp, bool allow_policies,
                                 bool allowed) {
  if (!stats_) return;
  std::string name = tcp ? "envoy_tcp_rbac_istio_dry_run_" : "envoy_http_rbac_istio_dry_run_";
  name += allow_policies ? "allow_shadow_" : "deny_shadow_";
  name += allowed ? "allowed" : "denied";
  stats_->counter(name, {{tcp ? "listener_address" : "http_conn_manager_prefix", listener}}).inc();
}

void WorkerTelemetry::upstreamTlsHandshake(const translate::Cluster& cluster, bool ok) {
  if (!stats_) return;
  auto& s = upstream(cluster);
  (ok ? s.ssl_handshake : s.ssl_connection_error)->inc();
}

void WorkerTelemetry::connectionClosed(std::string_view listener) {
  if (!stats_) return;
  downstream(listener).cx_active->sub(1);
}

void WorkerTelemetry::upstreamConnect(const translate::Cluster& cluster, bool ok) {
  if (!stats_) return;
  auto& s = upstream(cluster);
  s.cx_total->inc();
  if (!ok) s.cx_connect_fail->inc();
}

void WorkerTelemetry::upstreamOverflow(const translate::Cluster& cluster,
                                       upstream::Overflow which) {
  if (!stats_) return;
  auto& s = upstream(cluster);
  switch (which) {
    case upstream::Overflow::kRequests:
    case upstream::Overflow::kPending:
      s.rq_pending_overflow->inc();
      break;
    case upstream::Overflow::kConnections:
      s.cx_overflow->inc();
      break;
    case upstream::Overflow::kRetries:
      s.rq_retry_overflow->inc();
      break;
  }
}

void WorkerTelemetry::outlierEjection(const translate::Cluster& cluster, upstream::Ejection why) {
  if (!stats_) return;
  auto& s = upstream(cluster);
  switch (why) {
    case upstream::Ejection::kNone:
      return;
    case upstream::Ejection::kOverflow:
      s.ejections_overflow->inc();
      return;
    case upstream::Ejection::kConsecutive5xx:
      s.ejections_consecutive_5xx->inc();
      break;
    case upstream::Ejection::kConsecutiveGateway:
      s.ejections_consecutive_gateway->inc();
      break;
    case upstream::Ejection::kConsecutiveLocalOrigin:
      s.ejections_consecutive_local_origin->inc();
      break;
  }
  s.ejections_enforced_total->inc();
}

namespace {

std::string_view orUnknown(std::string_view v) {
  return v.empty() ? telemetry::kUnknown : v;
}

}  // namespace

telemetry::IstioRequestLabels WorkerTelemetry::istioLabels(const RequestRecord& record) const {
  telemetry::IstioRequestLabels labels;
  const bool inbound = record.listener_kind == translate::ListenerKind::kInbound;
  if (record.grpc) {
    labels.request_protocol = "grpc";
    labels.grpc_response_status = record.grpc_status;
  }
  if (record.cluster) {
    const translate::Cluster& c = *record.cluster;
    labels.destination_service = orUnknown(c.service_host);
    labels.destination_service_name = orUnknown(c.service_name);
    labels.destination_service_namespace = orUnknown(c.service_namespace);
    labels.destination_canonical_service = orUnknown(c.service_name);
    labels.destination_workload_namespace = orUnknown(c.service_namespace);
  } else if (!record.log.authority.empty()) {
    labels.destination_service = record.log.authority;  // Istio falls back to the Host header
  }
  if (inbound) {
    // This proxy is the destination; the caller is whom its certificate names.
    labels.reporter = "destination";
    labels.connection_security_policy = record.mutual_tls ? "mutual_tls" : "none";
    labels.destination_workload = self_.workload;
    labels.destination_workload_namespace = self_.namespace_;
    labels.destination_app = self_.app;
    labels.destination_canonical_service = self_.canonical_service;
    labels.destination_version = self_.version;
    labels.destination_canonical_revision = self_.revision;
    labels.destination_principal =
        record.own_principal.empty() ? std::string_view(self_.principal) : record.own_principal;
    if (record.has_peer) {
      const telemetry::PeerIdentity& p = record.peer;
      labels.source_workload = orUnknown(p.workload);
      labels.source_workload_namespace = orUnknown(p.namespace_);
      labels.source_app = orUnknown(p.app.empty() ? p.workload : p.app);
      // An older peer's header has no canonical service: its app was taken for it.
      labels.source_canonical_service =
          p.canonical_service.empty() ? labels.source_app : p.canonical_service;
      labels.source_version = orUnknown(p.version);
      if (!p.revision.empty()) labels.source_canonical_revision = p.revision;
      labels.source_principal = orUnknown(record.peer_principal);
    }
  } else {
    labels.source_workload = self_.workload;
    labels.source_canonical_service = self_.canonical_service;
    labels.source_workload_namespace = self_.namespace_;
    labels.source_app = self_.app;
    labels.source_version = self_.version;
    labels.source_canonical_revision = self_.revision;
    labels.source_principal = self_.principal;
    labels.destination_principal = orUnknown(record.upstream_principal);
    if (record.endpoint && !record.endpoint->workload.empty()) {
      const translate::Endpoint& e = *record.endpoint;
      labels.destination_workload = e.workload;
      labels.destination_workload_namespace = orUnknown(e.namespace_);
      // Compiled when the endpoint arrived (translate::nameEndpoint): no label lookups here.
      labels.destination_app = e.names.app;
      labels.destination_canonical_service = e.names.canonical_service;
      labels.destination_version = e.names.version;
      labels.destination_canonical_revision = e.names.canonical_revision;
    }
  }
  labels.response_code = record.log.response_code;
  labels.response_flags = record.log.response_flags;
  return labels;
}

void WorkerTelemetry::recordSpan(const RequestRecord& record) {
  const telemetry::TraceContext& trace = *record.trace;
  const telemetry::AccessLogEntry& log = record.log;
  if (!span_source_) {
    // Istio's per-proxy tags, the same on every span.
    auto source = std::make_shared<telemetry::SpanSource>();
    source->service_name = self_.app + "." + self_.namespace_;
    source->tags = {{"component", "proxy"},
                    {"node_id", self_.workload + "." + self_.namespace_},
                    {"istio.canonical_service", self_.canonical_service},
                    {"istio.canonical_revision", self_.revision},
                    {"istio.namespace", self_.namespace_},
                    {"istio.mesh_id", "cluster.local"}};
    source->encodeTags();
    span_source_ = std::move(source);
  }
  if (!spans_) spans_ = telemetry::SpanExporter::instance().newBuffer();
  const int64_t start_us =
      std::chrono::duration_cast<std::chrono::microseconds>(log.start_time.time_since_epoch())
          .count();
  // The request's own measure (no second clock read); milliseconds where that is all there is.
  const int64_t duration_us =
      log.duration_us.count() > 0
          ? log.duration_us.count()
          : std::chrono::duration_cast<std::chrono::microseconds>(log.duration).count();
  // Every field is assigned: the record may hold an earlier span (SpanBuffer::add).
  const bool filling_up = spans_->add([&](telemetry::SpanRecord& span) {
    // Ids of fixed sizes (32 and 16 digits): copied in a few moves, where std::copy over views
    // called memmove for each.
    std::memcpy(span.trace_id.data(), trace.traceId().data(), span.trace_id.size());
    std::memcpy(span.span_id.data(), trace.spanId().data(), span.span_id.size());
    const std::string_view parent_id = trace.parentId();
    span.has_parent = !parent_id.empty();
    if (span.has_parent)
      std::memcpy(span.parent_id.data(), parent_id.data(), span.parent_id.size());
    span.server = record.listener_kind == translate::ListenerKind::kInbound;
    span.start_us = start_us;
    span.duration_us = duration_us;
    span.status = log.response_code;
    span.error = log.response_code == 0 || log.response_code >= 500;
    span.request_size = log.bytes_received;
    span.response_size = log.bytes_sent;
    span.protocol = log.protocol == "HTTP/1.0" ? "HTTP/1.0"
                    : log.protocol == "HTTP/2" ? "HTTP/2"
                                               : "HTTP/1.1";
    // Flags are rare: a string of their own only then.
    const std::string flags =
        log.response_flags.empty() ? std::string() : log.response_flags.toString();
    span.setTexts({log.method, log.authority, log.path, flags, log.upstream_cluster,
                   log.downstream_remote_address, log.user_agent, log.request_id});
    // Most meshes set no custom tags: no vector assignment then.
    if (!span.custom_tags.empty() || !trace.customTags().empty()) {
      span.custom_tags = trace.customTags();
    }
    if (span.source != span_source_) span.source = span_source_;
    if (span.settings != trace.sharedSettings()) span.settings = trace.sharedSettings();
  });
  telemetry::SpanExporter::instance().spanAdded();
  if (filling_up) telemetry::SpanExporter::instance().wake();
}

// What an accessLogging filter expression or a tagOverrides value reads of the request
// (translate/access_log_filter.h).
static translate::AccessLogAttributes accessLogAttributes(const telemetry::AccessLogEntry& log) {
  translate::AccessLogAttributes a;
  a.response_code = log.response_code;
  a.method = log.method;
  a.path = log.path;
  a.host = log.authority;
  a.user_agent = log.user_agent;
  a.request_id = log.request_id;
  a.x_forwarded_for = log.x_forwarded_for;
  a.mtls = !log.downstream_peer_uri_san.empty();
  a.headers = log.request_headers;
  return a;
}

void WorkerTelemetry::recordOverridden(const RequestRecord& record,
                                       const translate::MetricsSide& side) {
  const telemetry::IstioRequestLabels l = istioLabels(record);
  const std::string code = std::to_string(l.response_code);
  const std::string flags = l.response_flags.toString();
  auto labels = telemetry::istioLabels(l, code, flags);
  const std::span<const telemetry::Label> all(labels.data(), labels.size());
  using M = translate::IstioMetric;
  auto on = [&side](M m) { return !side.disabled[static_cast<size_t>(m)]; };
  // tagOverrides: the labels of each metric with its CEL values and removals (per worker thread).
  thread_local telemetry::TagUpserter upserter;
  if (!side.upserts.empty()) upserter.evaluate(side, accessLogAttributes(record.log));
  auto labelsOf = [&](M m) { return side.upserts.empty() ? all : upserter.apply(all, side, m); };
  if (on(M::kRequestCount)) {
    stats_->counter(telemetry::kIstioRequestsTotal, labelsOf(M::kRequestCount)).inc();
  }
  if (on(M::kRequestDuration)) {
    stats_->histogram(telemetry::kIstioRequestDuration, labelsOf(M::kRequestDuration))
        .record(static_cast<uint64_t>(record.log.duration.count()));
  }
  if (on(M::kRequestSize)) {
    stats_->histogram(telemetry::kIstioRequestBytes, labelsOf(M::kRequestSize))
        .record(record.log.bytes_received);
  }
  if (on(M::kResponseSize)) {
    stats_->histogram(telemetry::kIstioResponseBytes, labelsOf(M::kResponseSize))
        .record(record.log.bytes_sent);
  }
}

void WorkerTelemetry::logRequest(const RequestRecord& record) {
  if (!writer_) return;
  const translate::ListenerTelemetry* telemetry = record.telemetry;
  if (!telemetry) return writer_->log(record.log);
  // The attributes are gathered only for a sink that has a filter, once per request.
  std::optional<translate::AccessLogAttributes> request;
  for (const auto& sink :
       telemetry->logsOf(record.listener_kind == translate::ListenerKind::kInbound)) {
    if (sink.own_log && !writer_->wantsOwn()) continue;
    if (!sink.compiled.empty()) {
      if (!request) request = accessLogAttributes(record.log);
      if (!sink.compiled.matches(*request)) continue;
    }
    if (sink.own_log) {
      writer_->log(record.log);
    } else {
      writer_->log(record.log, sink.provider);
    }
  }
}

void WorkerTelemetry::requestDone(const RequestRecord& record) {
  logRequest(record);
  const translate::ListenerTelemetry* overrides = record.telemetry;
  if (record.trace && record.trace->sampled()) recordSpan(record);
  if (!stats_) return;
  downstream(record.listener).rq_total->inc();
  if (record.cluster) {
    auto& us = upstream(*record.cluster);
    us.rq_total->inc();
    if (record.retried) us.rq_retry->inc();
    if (record.upstream_timeout) us.rq_timeout->inc();
  }
  if (overrides) {
    const translate::MetricsSide& side = record.listener_kind == translate::ListenerKind::kInbound
                                             ? overrides->server
                                             : overrides->client;
    if (side.anyDisabled() || !side.upserts.empty()) {
      return recordOverridden(record, side);
    }
  }
  stats_->recordRequest(istioLabels(record), static_cast<uint64_t>(record.log.duration.count()),
                        record.log.bytes_received, record.log.bytes_sent);
}

template <class F>
void WorkerTelemetry::withTcpLabels(const RequestRecord& record, F&& f) {
  const translate::MetricsSide* side = nullptr;
  if (record.telemetry) {
    side = record.listener_kind == translate::ListenerKind::kInbound ? &record.telemetry->server
                                                                     : &record.telemetry->client;
  }
  telemetry::IstioRequestLabels l = istioLabels(record);
  l.request_protocol = "tcp";
  const std::string flags = l.response_flags.toString();
  const auto all = telemetry::istioLabels(l, "0", flags);
  std::array<telemetry::Label, telemetry::kIstioLabelCount - 2> labels;
  size_t n = 0;
  for (const auto& label : all) {
    if (label.name == "response_code" || label.name == "grpc_response_status") continue;
    if (n == labels.size()) break;
    labels[n] = label;
    ++n;
  }
  const std::span<const telemetry::Label> base(labels.data(), n);
  // tagOverrides: each metric's labels with its CEL values and removals (a connection's
  // response.code is 0, as for the access-log filter), per worker thread as for requests.
  thread_local telemetry::TagUpserter upserter;
  const bool upserts = side && !side->upserts.empty();
  if (upserts) upserter.evaluate(*side, accessLogAttributes(record.log));
  auto labelsOf = [&](translate::IstioMetric m) {
    return upserts ? upserter.apply(base, *side, m) : base;
  };
  f(labelsOf, side);
}

namespace {

bool metricOn(const translate::MetricsSide* side, translate::IstioMetric metric) {
  return !side || !side->disabled[static_cast<size_t>(metric)];
}

}  // namespace

void WorkerTelemetry::tcpOpened(const RequestRecord& record) {
  if (!stats_) return;
  using M = translate::IstioMetric;
  withTcpLabels(record, [&](auto&& labelsOf, const translate::MetricsSide* side) {
    if (metricOn(side, M::kTcpOpenedConnections)) {
      stats_->counter(telemetry::kIstioTcpOpened, labelsOf(M::kTcpOpenedConnections)).inc();
    }
  });
}

void WorkerTelemetry::tcpDone(const RequestRecord& record, bool opened) {
  // A TCP connection has no response code: a filter on response.code sees 0, as Envoy's does.
  logRequest(record);
  if (!stats_) return;
  using M = translate::IstioMetric;
  withTcpLabels(record, [&](auto&& labelsOf, const translate::MetricsSide* side) {
    // A connection closed before it had a destination is counted opened now, as Istio does for
    // connections whose peer was never known.
    if (!opened && metricOn(side, M::kTcpOpenedConnections)) {
      stats_->counter(telemetry::kIstioTcpOpened, labelsOf(M::kTcpOpenedConnections)).inc();
    }
    if (metricOn(side, M::kTcpClosedConnections)) {
      stats_->counter(telemetry::kIstioTcpClosed, labelsOf(M::kTcpClosedConnections)).inc();
    }
    if (metricOn(side, M::kTcpSentBytes)) {
      stats_->counter(telemetry::kIstioTcpSentBytes, labelsOf(M::kTcpSentBytes))
          .inc(record.log.bytes_sent);
    }
    if (metricOn(side, M::kTcpReceivedBytes)) {
      stats_->counter(telemetry::kIstioTcpReceivedBytes, labelsOf(M::kTcpReceivedBytes))
          .inc(record.log.bytes_received);
    }
  });
}

void WorkerTelemetry::flush() {
  if (writer_) writer_->flush();
}

}  // namespace halyard::proxy::runtime
