// The span exporter's encoders on a sidecar's spans at 100% sampling: batches of 1,024 spans
// (kSpansPerPost), each with its own ids, request id, path, sizes and peer port, and the method,
// cluster and user agent a steady load repeats. Prints nanoseconds and bytes per span for Zipkin
// v2 JSON and OTLP/HTTP JSON. Deterministic input, so under callgrind
// (`valgrind --tool=callgrind build/bin/span_encode_bench 20`) it also gives instructions per
// span that do not move with the machine's load.
//
//     ninja -C build span_encode_bench && build/bin/span_encode_bench [batches]
//
// Not a test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
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

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 200;
  auto source = std::make_shared<SpanSource>();
  source->service_name = "client.default";
  source->tags = {{"component", "proxy"},
                  {"node_id", "client.default"},
                  {"istio.canonical_service", "client"},
                  {"istio.canonical_revision", "v1"},
                  {"istio.namespace", "default"},
                  {"istio.mesh_id", "cluster.local"}};
  source->encodeTags();
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
