// The span exporter's encoders on a sidecar's spans at 100% sampling: batches of 1,024 spans
// (kSpansPerPost), each with its own ids, request id, path, sizes and peer port, and the method,
// cluster and user agent a steady load repeats. Prints nanoseconds and bytes per span for Zipkin
// v2 JSON and OTLP/HTTP JSON. Deterministic input, so under callgrind
// (`valgrind --tool=callgrind build/bin/span_encode_bench 20`) it also gives instructions per
// span that do not move with the machine's load.
//
//     ninja -C build span_encode_bench && build/bin/span_encode_bench [batches]
//
// `span_encode_bench --dump` prints instead the bodies both encoders write for the sidecar batch
// and for spans with every unusual field (escapes, clipping, custom tags, errors, no parent, no
// source...) at several maxTagLength values: diff its output before and after changing an
// encoder, which must stay byte for byte the same.
//
// Not a test.
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_out.h"
#include "telemetry/span_exporter.h"

using halyard::common::JsonOut;
using halyard::telemetry::SpanExporter;
using halyard::telemetry::SpanRecord;
using halyard::telemetry::SpanSource;

namespace {

constexpr size_t kBatch = 1'024;

std::vector<SpanRecord> sidecarSpans(const std::shared_ptr<const SpanSource>& source) {
  std::vector<SpanRecord> spans(kBatch);
  for (size_t i = 0; i < kBatch; ++i) {
    SpanRecord& s = spans[i];
    char hex[40];
    std::snprintf(hex, sizeof hex, "%016zx%016zx", i * 7919 + 1, i * 104729 + 3);
    std::copy(hex, hex + 32, s.trace_id.begin());
    std::copy(hex + 16, hex + 32, s.span_id.begin());
    std::copy(hex, hex + 16, s.parent_id.begin());
    s.has_parent = i % 2 == 1;
    s.server = i % 2 == 1;
    s.status = 200;
    s.start_us = 1'765'000'000'000'000 + static_cast<int64_t>(i) * 37;
    s.duration_us = 250 + static_cast<int64_t>(i % 97);
    s.request_size = 0;
    s.response_size = 612;
    s.protocol = "HTTP/1.1";
    char request_id[40], path[32], peer[32];
    std::snprintf(request_id, sizeof request_id, "%08zx-9dad-4c2b-8f1e-%012zx", i * 31, i * 17);
    std::snprintf(path, sizeof path, "/api/items/%zu", i % 50);
    std::snprintf(peer, sizeof peer, "127.0.0.1:%zu", 40000 + i % 16);
    s.setTexts({"GET", "server-svc.default.svc.cluster.local", path, "",
                "outbound|80||server-svc.default.svc.cluster.local", peer, "wrk/4.2", request_id});
    s.source = source;
  }
  return spans;
}

// Spans with what a steady load never shows, next to each other so that the shared pieces
// (name, service, steady tags) are written and then copied across every kind of change.
std::vector<SpanRecord> unusualSpans(const std::shared_ptr<const SpanSource>& source) {
  auto other = std::make_shared<SpanSource>(*source);
  other->service_name = "other \"svc\"";
  other->tags.emplace_back("istio.namespace", "a-namespace-name-longer-than-twenty");
  other->encodeTags();
  auto plain = std::make_shared<SpanSource>(*source);  // tags not encoded ahead
  plain->zipkin_tags.clear();
  plain->otlp_attributes.clear();
  const int64_t starts[] = {
      0, -5, 1, 9, 10, 99'999, 1'765'000'000'000'000, 9'999'999'999'999, INT64_MAX / 2000};
  const int64_t durations[] = {0, -1, 1, 9, 10, 1'000'000, 123'456'789'012};
  const uint16_t statuses[] = {0, 7, 42, 200, 503, 999, 1000, 65535};
  const uint64_t sizes[] = {0, 1, 10, 612, 1'000'000, UINT64_MAX};
  const char* const paths[] = {"/", "/p\"q", "/\001ctl\ttab\\", "/a-long-path-that-clips-here"};
  const char* const agents[] = {"", "curl/8 \"quoted\"", "wrk/4.2"};
  const char* const clusters[] = {"", "outbound|80||other \"svc\"",
                                  "outbound|80||server-svc.default.svc.cluster.local",
                                  "inbound|8080||", "outbound|x"};
  std::vector<SpanRecord> spans(96);
  for (size_t i = 0; i < spans.size(); ++i) {
    SpanRecord& s = spans[i];
    char hex[40];
    std::snprintf(hex, sizeof hex, "%016zx%016zx", i * 7919 + 1, i * 104729 + 3);
    std::copy(hex, hex + 32, s.trace_id.begin());
    std::copy(hex + 16, hex + 32, s.span_id.begin());
    std::copy(hex, hex + 16, s.parent_id.begin());
    s.has_parent = i % 3 != 0;
    s.server = i % 2 == 1;
    s.status = statuses[i % std::size(statuses)];
    s.error = s.status == 0 || s.status >= 500;
    s.start_us = starts[i % std::size(starts)];
    s.duration_us = durations[i % std::size(durations)];
    s.request_size = sizes[i % std::size(sizes)];
    s.response_size = sizes[(i / 2) % std::size(sizes)];
    s.protocol = i % 5 == 0 ? "HTTP/2" : (i % 7 == 0 ? "HTTP/1.0" : "HTTP/1.1");
    char request_id[48], peer[32];
    std::snprintf(request_id, sizeof request_id, i % 4 == 0 ? "id-\"%zu\"" : "%08zx-9dad", i);
    std::snprintf(peer, sizeof peer, i % 6 == 0 ? "[::1]:%zu" : "10.0.0.1:%zu", 1000 + i);
    const bool repeat = i % 8 < 4;  // runs of equal steady fields
    s.setTexts({repeat ? "GET" : (i % 2 ? "POST" : "GET"),
                i % 9 == 0 ? "auth\"ority:80" : "server-svc", paths[i % std::size(paths)],
                i % 11 == 0 ? "UF,URX" : "",
                repeat ? clusters[2] : clusters[i % std::size(clusters)], peer,
                repeat ? "wrk/4.2" : agents[i % std::size(agents)], request_id});
    if (i % 10 == 3) s.custom_tags = {{"team", "a \"quoted\" value"}, {"k\"ey", "v"}};
    s.source = i % 13 == 5 ? nullptr : (i % 7 == 2 ? other : (i % 17 == 4 ? plain : source));
  }
  return spans;
}

void dump(const std::vector<SpanRecord>& spans) {
  std::vector<const SpanRecord*> batch;
  for (const SpanRecord& s : spans) batch.push_back(&s);
  for (const size_t max : {size_t{0}, size_t{5}, size_t{12}, size_t{20}, size_t{256}}) {
    std::printf("zipkin %zu\n%s\notlp %zu\n%s\n", max, SpanExporter::zipkinJson(batch, max).c_str(),
                max, SpanExporter::otlpJson(batch, max).c_str());
  }
}

std::shared_ptr<SpanSource> sidecarSource() {
  auto source = std::make_shared<SpanSource>();
  source->service_name = "client.default";
  source->tags = {{"component", "proxy"},
                  {"node_id", "client.default"},
                  {"istio.canonical_service", "client"},
                  {"istio.canonical_revision", "v1"},
                  {"istio.namespace", "default"},
                  {"istio.mesh_id", "cluster.local"}};
  source->encodeTags();
  return source;
}

}  // namespace

int main(int argc, char** argv) {
  const std::shared_ptr<const SpanSource> source = sidecarSource();
  if (argc > 1 && std::string_view(argv[1]) == "--dump") {
    dump(sidecarSpans(source));
    dump(unusualSpans(source));
    return 0;
  }
  const int batches = argc > 1 ? std::atoi(argv[1]) : 200;
  const std::vector<SpanRecord> spans = sidecarSpans(source);
  std::vector<const SpanRecord*> batch;
  for (const SpanRecord& s : spans) batch.push_back(&s);

  std::printf("| format | spans | ns per span | bytes per span |\n|---|---:|---:|---:|\n");
  for (const bool zipkin : {true, false}) {
    JsonOut out;
    const auto start = std::chrono::steady_clock::now();
    for (int b = 0; b < batches; ++b) {
      out.clear();
      if (zipkin) {
        SpanExporter::appendZipkinJson(out, batch, 0);
      } else {
        SpanExporter::appendOtlpJson(out, batch, 0);
      }
    }
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    const double n = static_cast<double>(batches) * kBatch;
    std::printf("| %s | %.0f | %.0f | %zu |\n", zipkin ? "Zipkin v2 JSON" : "OTLP/HTTP JSON", n,
                ns / n, out.size() / kBatch);
  }
  return 0;
}
