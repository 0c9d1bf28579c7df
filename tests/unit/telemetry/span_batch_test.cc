// The span exporter's batches on the wire (issue 14): more spans than one POST carries reach a
// real collector (an HTTP server of the test on 127.0.0.1), each span once, in bodies of at most
// 1,024 spans, for Zipkin v2 JSON and OTLP/HTTP JSON alike.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "telemetry/span_exporter.h"

namespace halyard::telemetry {
namespace {

// A collector: answers every POST with 200 and keeps the request bodies, one connection at a
// time (the exporter posts its parts one after the other).
class Collector {
 public:
  Collector() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "the test collector cannot listen on 127.0.0.1";
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Collector() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<std::string> paths() {
    std::lock_guard lock(mu_);
    return paths_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      handle(conn);
      ::close(conn);
    }
  }
  void handle(int conn) {
    std::string in;
    char chunk[65536];
    size_t head_end = std::string::npos;
    size_t length = 0;
    while (true) {
      const ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      in.append(chunk, static_cast<size_t>(n));
      if (head_end == std::string::npos) {
        head_end = in.find("\r\n\r\n");
        if (head_end == std::string::npos) continue;
        const size_t at = in.find("Content-Length: ");
        if (at == std::string::npos || at > head_end) return;
        length = std::stoul(in.substr(at + 16));
      }
      if (in.size() >= head_end + 4 + length) break;
    }
    {
      std::lock_guard lock(mu_);
      paths_.push_back(in.substr(0, in.find(' ', 5)));  // "POST /api/v2/spans"
      bodies_.push_back(in.substr(head_end + 4, length));
    }
    const std::string_view ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    ::send(conn, ok.data(), ok.size(), MSG_NOSIGNAL);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<std::string> paths_;
};

translate::TracingProvider provider(translate::TracingProvider::Kind kind, uint16_t port,
                                    std::string path) {
  translate::TracingProvider p;
  p.name = kind == translate::TracingProvider::Kind::kZipkin ? "zipkin" : "otel";
  p.kind = kind;
  p.host = "127.0.0.1";
  p.port = port;
  p.path = std::move(path);
  return p;
}

// The span ids of one body, in the provider's format.
std::vector<std::string> spanIds(const std::string& body, bool zipkin) {
  std::vector<std::string> ids;
  const auto doc = nlohmann::json::parse(body);
  if (zipkin) {
    for (const auto& span : doc) ids.push_back(span.at("id").get<std::string>());
    return ids;
  }
  for (const auto& resource : doc.at("resourceSpans")) {
    for (const auto& scope : resource.at("scopeSpans")) {
      for (const auto& span : scope.at("spans"))
        ids.push_back(span.at("spanId").get<std::string>());
    }
  }
  return ids;
}

TEST(SpanExporter, PostsABigBatchInPartsOfAtMost1024SpansEachSpanOnce) {
  Collector zipkin, otlp;
  auto settings = std::make_shared<translate::TracingSettings>();
  settings->sampling_percentage = 100;
  settings->providers = {
      provider(translate::TracingProvider::Kind::kZipkin, zipkin.port(), "/api/v2/spans"),
      provider(translate::TracingProvider::Kind::kOpenTelemetry, otlp.port(), "/v1/traces")};
  auto source = std::make_shared<SpanSource>();
  source->service_name = "reviews.default";
  source->tags = {{"istio.namespace", "default"}};
  source->encodeTags();

  // More than two POSTs' worth, spread over two workers' buffers, each span with its own id.
  constexpr size_t kSpans = 2'500;
  SpanExporter& exporter = SpanExporter::instance();
  std::vector<std::shared_ptr<SpanBuffer>> buffers = {exporter.newBuffer(), exporter.newBuffer()};
  std::map<std::string, int> sent;
  for (size_t i = 0; i < kSpans; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016zx", i + 1);
    sent[id] = 0;
    buffers[i % 2]->add([&](SpanRecord& r) {
      std::snprintf(r.trace_id.data(), r.trace_id.size(), "%016zx", i / 3);
      std::fill(r.trace_id.begin() + 16, r.trace_id.end(), 'a');
      std::copy(id, id + 16, r.span_id.begin());
      r.has_parent = false;
      r.server = i % 2 == 0;
      r.status = 200;
      r.start_us = 1'700'000'000'000'000 + static_cast<int64_t>(i);
      r.duration_us = 100;
      const std::string path = "/reviews/" + std::to_string(i);
      r.setTexts({"GET", "reviews:9080", path, "", "", "127.0.0.1", "", ""});
      r.source = source;
      r.settings = settings;
    });
  }
  const uint64_t exported_before = exporter.exportedSpans();
  exporter.flush();  // on this thread: every part has been answered when it returns

  for (Collector* c : {&zipkin, &otlp}) {
    const bool is_zipkin = c == &zipkin;
    SCOPED_TRACE(is_zipkin ? "zipkin" : "otlp");
    const auto bodies = c->bodies();
    ASSERT_EQ(bodies.size(), (kSpans + 1'023) / 1'024);  // 1,024 + 1,024 + 452
    for (const auto& path : c->paths()) {
      EXPECT_EQ(path, is_zipkin ? "POST /api/v2/spans" : "POST /v1/traces");
    }
    std::map<std::string, int> got = sent;
    size_t total = 0;
    for (const auto& body : bodies) {
      const auto ids = spanIds(body, is_zipkin);
      EXPECT_LE(ids.size(), 1'024u);
      EXPECT_GT(ids.size(), 0u);
      total += ids.size();
      for (const auto& id : ids) {
        auto it = got.find(id);
        ASSERT_NE(it, got.end()) << "a span the test did not send: " << id;
        ++it->second;
      }
    }
    EXPECT_EQ(total, kSpans);
    for (const auto& [id, times] : got) EXPECT_EQ(times, 1) << "span " << id;
  }
  EXPECT_EQ(exporter.exportedSpans() - exported_before, 2 * kSpans);
}

}  // namespace
}  // namespace halyard::telemetry
