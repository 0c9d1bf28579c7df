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
#include <chrono>
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
  enum class Connections {
    kClose,     // "Connection: close" on every answer
    kKeep,      // HTTP/1.1 keep-alive: the next request may come on the same connection
    kDropKept,  // answers as kKeep does, then closes without a word (an idle timeout)
  };
  explicit Collector(Connections mode = Connections::kClose) : mode_(mode) {
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
  int connections() const { return connections_; }
  // Connections that ended (closed by the exporter, or by this collector after an answer).
  int ended() const { return ended_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      ++connections_;
      while (handle(conn) && mode_ == Connections::kKeep && !stop_) {
      }
      ::close(conn);
      ++ended_;
    }
  }
  // One request and its answer; false when the connection ended first.
  bool handle(int conn) {
    std::string in;
    char chunk[65536];
    size_t head_end = std::string::npos;
    size_t length = 0;
    while (true) {
      if (mode_ == Connections::kKeep) {
        // Waits for the next request in slices, so that the collector can stop meanwhile.
        pollfd p{conn, POLLIN, 0};
        if (::poll(&p, 1, 50) == 0) {
          if (stop_) return false;
          continue;
        }
      }
      const ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      in.append(chunk, static_cast<size_t>(n));
      if (head_end == std::string::npos) {
        head_end = in.find("\r\n\r\n");
        if (head_end == std::string::npos) continue;
        const size_t at = in.find("Content-Length: ");
        if (at == std::string::npos || at > head_end) return false;
        length = std::stoul(in.substr(at + 16));
      }
      if (in.size() >= head_end + 4 + length) break;
    }
    {
      std::lock_guard lock(mu_);
      paths_.push_back(in.substr(0, in.find(' ', 5)));  // "POST /api/v2/spans"
      bodies_.push_back(in.substr(head_end + 4, length));
    }
    const std::string_view ok =
        mode_ == Connections::kClose
            ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    ::send(conn, ok.data(), ok.size(), MSG_NOSIGNAL);
    return true;
  }

  Connections mode_;
  std::atomic<int> connections_{0};
  std::atomic<int> ended_{0};
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
namespace {

std::shared_ptr<translate::TracingSettings> zipkinSettings(uint16_t port) {
  auto settings = std::make_shared<translate::TracingSettings>();
  settings->sampling_percentage = 100;
  settings->providers = {
      provider(translate::TracingProvider::Kind::kZipkin, port, "/api/v2/spans")};
  return settings;
}

// `count` spans with ids from `first_id` on, into `buffer`; the ids, each sent once.
std::map<std::string, int> addSpans(SpanBuffer& buffer, size_t count, size_t first_id,
                                    const std::shared_ptr<translate::TracingSettings>& settings) {
  auto source = std::make_shared<SpanSource>();
  source->service_name = "reviews.default";
  source->encodeTags();
  std::map<std::string, int> sent;
  for (size_t i = 0; i < count; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016zx", first_id + i);
    sent[id] = 0;
    buffer.add([&](SpanRecord& r) {
      std::fill(r.trace_id.begin(), r.trace_id.end(), 'b');
      std::copy(id, id + 16, r.span_id.begin());
      r.has_parent = false;
      r.status = 200;
      r.start_us = 1'700'000'000'000'000;
      r.duration_us = 100;
      r.setTexts({"GET", "reviews:9080", "/", "", "", "127.0.0.1", "", ""});
      r.source = source;
      r.settings = settings;
    });
  }
  return sent;
}

void expectEachSpanOnce(Collector& c, std::map<std::string, int> sent) {
  for (const auto& body : c.bodies()) {
    for (const auto& id : spanIds(body, true)) {
      auto it = sent.find(id);
      ASSERT_NE(it, sent.end()) << "a span the test did not send: " << id;
      ++it->second;
    }
  }
  for (const auto& [id, times] : sent) EXPECT_EQ(times, 1) << "span " << id;
}

// A collector that keeps connections gets every batch on one, across flushes: no socket,
// connect and close per batch.
TEST(SpanExporter, KeepsOneConnectionToACollectorThatKeepsIt) {
  Collector zipkin(Collector::Connections::kKeep);
  const auto settings = zipkinSettings(zipkin.port());
  SpanExporter& exporter = SpanExporter::instance();
  auto buffer = exporter.newBuffer();
  auto sent = addSpans(*buffer, 2'100, 0x10000, settings);  // three POSTs
  exporter.flush();
  sent.merge(addSpans(*buffer, 10, 0x20000, settings));
  exporter.flush();
  EXPECT_EQ(zipkin.bodies().size(), 4u);
  EXPECT_EQ(zipkin.connections(), 1);
  expectEachSpanOnce(zipkin, sent);
}

// A kept connection goes once a flush posts nothing to its collector (a provider a reload
// removed, or a quiet spell): no descriptor stays open to a collector nobody uses.
TEST(SpanExporter, LetsAKeptConnectionGoWhenAFlushPostsNothingToItsCollector) {
  Collector zipkin(Collector::Connections::kKeep);
  SpanExporter& exporter = SpanExporter::instance();
  auto buffer = exporter.newBuffer();
  addSpans(*buffer, 10, 0x40000, zipkinSettings(zipkin.port()));
  exporter.flush();
  ASSERT_EQ(zipkin.bodies().size(), 1u);
  EXPECT_EQ(zipkin.ended(), 0);  // kept
  exporter.flush();              // nothing for this collector
  for (int i = 0; i < 100 && zipkin.ended() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(zipkin.ended(), 1);
  EXPECT_EQ(zipkin.connections(), 1);
}

// A kept connection the collector closed meanwhile (an idle timeout): the batch goes again on a
// new connection, and no span is lost or sent twice.
TEST(SpanExporter, PostsAgainOnANewConnectionWhenTheCollectorClosedAKeptOne) {
  Collector zipkin(Collector::Connections::kDropKept);
  const auto settings = zipkinSettings(zipkin.port());
  SpanExporter& exporter = SpanExporter::instance();
  auto buffer = exporter.newBuffer();
  const uint64_t exported_before = exporter.exportedSpans();
  const auto sent = addSpans(*buffer, 2'100, 0x30000, settings);  // three POSTs
  exporter.flush();
  EXPECT_EQ(zipkin.bodies().size(), 3u);
  EXPECT_EQ(zipkin.connections(), 3);
  EXPECT_EQ(exporter.exportedSpans() - exported_before, 2'100u);
  expectEachSpanOnce(zipkin, sent);
}

}  // namespace

}  // namespace halyard::telemetry
