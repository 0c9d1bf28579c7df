#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "telemetry/prometheus.h"
#include "telemetry/proxy_stats.h"
#include "telemetry/stats_store.h"
#include "telemetry/worker_stats.h"

namespace halyard::telemetry {
namespace {

std::string render(std::vector<const WorkerStats*> stats, std::string_view tag = "1.24.0") {
  return renderPrometheus(stats, tag);
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> linesStartingWith(const std::string& text, std::string_view prefix) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    if (line.starts_with(prefix)) out.push_back(line);
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

TEST(Histogram, ValueEqualToABoundIsInThatBucket) {
  EXPECT_EQ(Histogram::bucketIndex(0), 0u);  // <= 0.5
  EXPECT_EQ(Histogram::bucketIndex(1), 1u);  // <= 1
  for (size_t i = 1; i < kDefaultBuckets.size(); ++i) {
    const auto bound = static_cast<uint64_t>(kDefaultBuckets[i]);
    EXPECT_EQ(Histogram::bucketIndex(bound), i) << bound;
    EXPECT_EQ(Histogram::bucketIndex(bound + 1), i + 1) << bound;
  }
  EXPECT_EQ(Histogram::bucketIndex(3'600'001), kDefaultBuckets.size());  // +Inf
}

TEST(Prometheus, GoldenSmallCase) {
  WorkerStats w;
  w.counter("envoy_cluster_upstream_rq_total", {{"cluster_name", "outbound|80||b.ns"}}).inc(3);
  w.gauge("envoy_http_downstream_cx_active").add(2);
  Histogram& h = w.histogram("lat_ms", {{"route", "r1"}});
  for (uint64_t v : {0, 1, 7, 4'000'000}) h.record(v);

  const std::string expected =
      "# TYPE envoy_cluster_upstream_rq_total counter\n"
      "envoy_cluster_upstream_rq_total{cluster_name=\"outbound|80||b.ns\"} 3\n"
      "# TYPE envoy_http_downstream_cx_active gauge\n"
      "envoy_http_downstream_cx_active 2\n"
      "# TYPE istio_build gauge\n"
      "istio_build{component=\"proxy\",tag=\"1.24.0\"} 1\n"
      "# TYPE lat_ms histogram\n"
      "lat_ms_bucket{route=\"r1\",le=\"0.5\"} 1\n"
      "lat_ms_bucket{route=\"r1\",le=\"1\"} 2\n"
      "lat_ms_bucket{route=\"r1\",le=\"5\"} 2\n"
      "lat_ms_bucket{route=\"r1\",le=\"10\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"25\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"50\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"100\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"250\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"500\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"1000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"2500\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"5000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"10000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"30000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"60000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"300000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"600000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"1800000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"3600000\"} 3\n"
      "lat_ms_bucket{route=\"r1\",le=\"+Inf\"} 4\n"
      "lat_ms_sum{route=\"r1\"} 4000008\n"
      "lat_ms_count{route=\"r1\"} 4\n";
  EXPECT_EQ(render({&w}), expected);
}

TEST(Prometheus, MergesAcrossWorkers) {
  WorkerStats a;
  WorkerStats b;
  a.counter("c_total", {{"k", "x"}}).inc(2);
  b.counter("c_total", {{"k", "x"}}).inc(5);
  b.counter("c_total", {{"k", "a"}}).inc(1);  // sorts first
  a.gauge("g").add(3);
  b.gauge("g").add(4);
  b.gauge("g").sub(1);
  a.histogram("h").record(3);
  b.histogram("h").record(3);
  b.histogram("h").record(20);

  const std::string out = render({&a, &b});
  EXPECT_EQ(linesStartingWith(out, "c_total"),
            (std::vector<std::string>{"c_total{k=\"a\"} 1", "c_total{k=\"x\"} 7"}));
  EXPECT_EQ(linesStartingWith(out, "g "), (std::vector<std::string>{"g 6"}));
  EXPECT_EQ(linesStartingWith(out, "h_bucket{le=\"5\"}"),
            (std::vector<std::string>{"h_bucket{le=\"5\"} 2"}));
  EXPECT_EQ(linesStartingWith(out, "h_bucket{le=\"25\"}"),
            (std::vector<std::string>{"h_bucket{le=\"25\"} 3"}));
  EXPECT_EQ(linesStartingWith(out, "h_sum"), (std::vector<std::string>{"h_sum 26"}));
  EXPECT_EQ(linesStartingWith(out, "h_count"), (std::vector<std::string>{"h_count 3"}));
  EXPECT_EQ(linesStartingWith(out, "# TYPE c_total").size(), 1u);
}

TEST(Prometheus, FilterKeepsOnlyTheFamiliesWhoseNameMatches) {
  WorkerStats a;
  a.counter("istio_requests_total", {{"k", "x"}}).inc(2);
  a.histogram("istio_request_duration_milliseconds", {{"k", "x"}}).record(3);
  a.histogram("istio_request_bytes", {{"k", "x"}}).record(3);
  a.counter("envoy_cluster_upstream_rq_total").inc();
  const std::vector<const WorkerStats*> stats = {&a};

  // What the control plane's scrape sends, percent-encoded.
  auto dashboard =
      prometheusFilter("usedonly&filter=%5Eistio_request%28s_total%7C_duration_milliseconds%29%24");
  ASSERT_TRUE(dashboard.ok());
  ASSERT_NE(*dashboard, nullptr);
  const std::string out = renderPrometheus(stats, "1.24.0", dashboard->get());
  EXPECT_EQ(linesStartingWith(out, "# TYPE"),
            (std::vector<std::string>{"# TYPE istio_request_duration_milliseconds histogram",
                                      "# TYPE istio_requests_total counter"}));
  EXPECT_EQ(linesStartingWith(out, "istio_requests_total"),
            (std::vector<std::string>{"istio_requests_total{k=\"x\"} 2"}));

  // A partial match, as Envoy's: "upstream_rq" finds the Envoy counter only.
  auto partial = prometheusFilter("filter=upstream_rq");
  ASSERT_TRUE(partial.ok() && *partial != nullptr);
  EXPECT_EQ(linesStartingWith(renderPrometheus(stats, "t", partial->get()), "# TYPE"),
            (std::vector<std::string>{"# TYPE envoy_cluster_upstream_rq_total counter"}));

  // No filter (or an empty one): everything, istio_build included.
  auto none = prometheusFilter("usedonly");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  auto empty = prometheusFilter("filter=");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, nullptr);
  EXPECT_EQ(linesStartingWith(render(stats), "# TYPE").size(), 5u);

  auto bad = prometheusFilter("filter=istio_(");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("istio_("), std::string::npos) << bad.error().message;
}

TEST(Prometheus, EscapesLabelValuesAndSanitisesNames) {
  WorkerStats w;
  w.counter("odd.name-x", {{"bad-label", "a\"b\\c\nd"}}).inc();
  const std::string out = render({&w});
  EXPECT_NE(out.find("# TYPE odd_name_x counter\n"), std::string::npos) << out;
  EXPECT_NE(out.find("odd_name_x{bad_label=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << out;

  std::string s;
  appendEscapedLabelValue(s, "plain/path?q=1");
  EXPECT_EQ(s, "plain/path?q=1");
}

TEST(Prometheus, OneTypePerName) {
  WorkerStats w;
  w.counter("same").inc();
  w.gauge("same").set(5);  // created later, seen first (newest first): the gauge wins
  const std::string out = render({&w});
  EXPECT_EQ(linesStartingWith(out, "# TYPE same"), (std::vector<std::string>{"# TYPE same gauge"}));
  EXPECT_EQ(linesStartingWith(out, "same "), (std::vector<std::string>{"same 5"}));
}

IstioRequestLabels gatewayLabels() {
  IstioRequestLabels l;
  l.reporter = "source";
  l.source_workload = "istio-ingressgateway";
  l.source_canonical_service = "istio-ingressgateway";
  l.source_workload_namespace = "istio-system";
  l.source_app = "istio-ingressgateway";
  l.source_cluster = "Kubernetes";
  l.destination_workload = "productpage-v1";
  l.destination_workload_namespace = "default";
  l.destination_principal = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage";
  l.destination_app = "productpage";
  l.destination_version = "v1";
  l.destination_service = "productpage.default.svc.cluster.local";
  l.destination_canonical_service = "productpage";
  l.destination_canonical_revision = "v1";
  l.destination_service_name = "productpage";
  l.destination_service_namespace = "default";
  l.destination_cluster = "Kubernetes";
  l.response_code = 200;
  return l;
}

TEST(IstioMetrics, LabelsInIstioOrder) {
  WorkerStats w;
  IstioRequestLabels l = gatewayLabels();
  w.recordRequest(l, 12, 300, 5000);
  w.recordRequest(l, 30, 300, 5000);
  l.response_code = 503;
  l.response_flags = {ResponseFlag::kUpstreamConnectionFailure, ResponseFlag::kNoHealthyUpstream};
  w.recordRequest(l, 0, 300, 91);

  const std::string out = render({&w});
  const std::string common =
      "reporter=\"source\",source_workload=\"istio-ingressgateway\","
      "source_canonical_service=\"istio-ingressgateway\",source_canonical_revision=\"latest\","
      "source_workload_namespace=\"istio-system\",source_principal=\"unknown\","
      "source_app=\"istio-ingressgateway\",source_version=\"unknown\",source_cluster="
      "\"Kubernetes\","
      "destination_workload=\"productpage-v1\",destination_workload_namespace=\"default\","
      "destination_principal=\"spiffe://cluster.local/ns/default/sa/bookinfo-productpage\","
      "destination_app=\"productpage\",destination_version=\"v1\","
      "destination_service=\"productpage.default.svc.cluster.local\","
      "destination_canonical_service=\"productpage\",destination_canonical_revision=\"v1\","
      "destination_service_name=\"productpage\",destination_service_namespace=\"default\","
      "destination_cluster=\"Kubernetes\",request_protocol=\"http\",";
  EXPECT_EQ(linesStartingWith(out, "istio_requests_total"),
            (std::vector<std::string>{
                "istio_requests_total{" + common +
                    "response_code=\"200\",grpc_response_status=\"\",response_flags=\"-\","
                    "connection_security_policy=\"unknown\"} 2",
                "istio_requests_total{" + common +
                    "response_code=\"503\",grpc_response_status=\"\",response_flags=\"UH,UF\","
                    "connection_security_policy=\"unknown\"} 1",
            }));
  EXPECT_EQ(linesStartingWith(out, "# TYPE istio_"),
            (std::vector<std::string>{
                "# TYPE istio_build gauge", "# TYPE istio_request_bytes histogram",
                "# TYPE istio_request_duration_milliseconds histogram",
                "# TYPE istio_requests_total counter", "# TYPE istio_response_bytes histogram"}));
  const auto sums = linesStartingWith(out, "istio_request_duration_milliseconds_sum");
  ASSERT_EQ(sums.size(), 2u);
  EXPECT_TRUE(sums[0].ends_with(" 42"));
  const auto counts = linesStartingWith(out, "istio_response_bytes_count");
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_TRUE(counts[0].ends_with(" 2"));
  EXPECT_TRUE(counts[1].ends_with(" 1"));
}

TEST(IstioMetrics, SameLabelsSameHandle) {
  WorkerStats w;
  IstioRequestLabels l = gatewayLabels();
  IstioRequestMetrics& m1 = w.istioRequest(l);
  // Equal values from different storage find the same series.
  std::string copy(l.destination_service);
  l.destination_service = copy;
  EXPECT_EQ(&w.istioRequest(l), &m1);
  l.request_protocol = "grpc";
  EXPECT_NE(&w.istioRequest(l), &m1);
}

TEST(WorkerStats, HandlesAreStable) {
  WorkerStats w;
  Counter& c = w.counter("x_total", {{"a", "1"}});
  for (int i = 0; i < 100; ++i) w.counter("other_total", {{"i", std::to_string(i)}});
  std::string v = "1";
  EXPECT_EQ(&w.counter("x_total", {{"a", v}}), &c);
  EXPECT_NE(&w.counter("x_total", {{"a", "2"}}), &c);
  EXPECT_NE(&w.counter("x_total"), &c);
}

TEST(ProxyStats, EnvoyNames) {
  StatsStore store(2);
  auto down = DownstreamStats::resolve(store.worker(0), "outbound_0.0.0.0_80");
  down.cx_total->inc();
  down.cx_active->add();
  auto up0 = UpstreamStats::resolve(store.worker(0), "outbound|80||a.default.svc.cluster.local");
  auto up1 = UpstreamStats::resolve(store.worker(1), "outbound|80||a.default.svc.cluster.local");
  up0.rq_total->inc(2);
  up1.rq_total->inc(3);
  auto server = ServerStats::resolve(store.mainThread());
  server.config_reload_ok->inc();
  server.config_version->set(7);

  const std::string out = store.renderPrometheus("1.24.0");
  EXPECT_NE(out.find("envoy_http_downstream_cx_total{http_conn_manager_prefix=\"outbound_0.0.0.0_"
                     "80\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("envoy_cluster_upstream_rq_total{cluster_name=\"outbound|80||a.default.svc."
                     "cluster.local\"} 5\n"),
            std::string::npos);
  EXPECT_NE(out.find("halyard_config_reloads_total{result=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("halyard_config_reloads_total{result=\"rejected\"} 0\n"), std::string::npos);
  EXPECT_NE(out.find("halyard_config_version 7\n"), std::string::npos);
}

}  // namespace
}  // namespace halyard::telemetry
