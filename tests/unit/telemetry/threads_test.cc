// A worker thread records while the main thread scrapes, and workers log while the main thread
// switches the format. Run once under ThreadSanitizer too:
//   cmake -S . -B /tmp/build-tsan -G Ninja -DCMAKE_CXX_FLAGS=-fsanitize=thread
//   ninja -C /tmp/build-tsan telemetry_threads_test && /tmp/build-tsan/bin/telemetry_threads_test
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "telemetry/access_log_format.h"
#include "telemetry/access_logger.h"
#include "telemetry/stats_store.h"

namespace halyard::telemetry {
namespace {

// Sum of the values of the lines that start with `prefix`.
uint64_t sumOf(const std::string& text, std::string_view prefix) {
  uint64_t sum = 0;
  size_t pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      const size_t space = text.find(' ', pos);
      sum += std::stoull(text.substr(space + 1, text.find('\n', space) - space - 1));
    }
    pos += prefix.size();
  }
  return sum;
}

TEST(Threads, WorkerRecordsWhileMainScrapes) {
  constexpr int kRequests = 20000;
  StatsStore store(1);
  std::atomic<bool> done{false};
  std::thread worker([&] {
    WorkerStats& w = store.worker(0);
    std::vector<std::string> clusters;
    for (int i = 0; i < 64; ++i) clusters.push_back("outbound|80||svc" + std::to_string(i));
    for (int i = 0; i < kRequests; ++i) {
      // New label sets keep appearing while the scraper walks the series.
      IstioRequestLabels l;
      l.destination_service = clusters[i % clusters.size()];
      l.response_code = i % 7 == 0 ? 503 : 200;
      w.recordRequest(l, static_cast<uint64_t>(i % 100), 10, 20);
      Gauge& active = w.gauge("envoy_cluster_upstream_cx_active",
                              {{"cluster_name", clusters[i % clusters.size()]}});
      active.add();
      w.counter("envoy_cluster_upstream_rq_total",
                {{"cluster_name", clusters[i % clusters.size()]}})
          .inc();
      active.sub();
    }
    done.store(true);
  });
  int scrapes = 0;
  uint64_t last = 0;
  while (!done.load()) {
    const std::string out = store.renderPrometheus("test");
    const uint64_t total = sumOf(out, "istio_requests_total{");
    EXPECT_GE(total, last);  // counters never go backwards
    last = total;
    ++scrapes;
  }
  worker.join();
  const std::string out = store.renderPrometheus("test");
  EXPECT_EQ(sumOf(out, "istio_requests_total{"), uint64_t{kRequests});
  EXPECT_EQ(sumOf(out, "istio_request_bytes_count{"), uint64_t{kRequests});
  EXPECT_EQ(sumOf(out, "envoy_cluster_upstream_rq_total{"), uint64_t{kRequests});
  EXPECT_EQ(sumOf(out, "envoy_cluster_upstream_cx_active{"), 0u);
  EXPECT_GT(scrapes, 0);
}

TEST(Threads, WorkersLogWholeLinesWhileFormatSwitches) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string received;
  std::thread reader([&] {
    char buf[8192];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) received.append(buf, static_cast<size_t>(n));
  });

  constexpr int kLines = 3000;
  std::atomic<int> running{2};
  {
    AccessLogger logger;
    ASSERT_TRUE(logger.open("/proc/self/fd/" + std::to_string(fds[1])).ok());
    close(fds[1]);  // the logger holds its own descriptor; EOF once it is gone
    auto work = [&](std::string_view agent) {
      AccessLogWriter w(logger, 1000);
      AccessLogEntry e;
      e.method = "GET";
      e.path = "/";
      e.user_agent = agent;
      for (int i = 0; i < kLines; ++i) w.log(e);
      running.fetch_sub(1);
    };
    const std::string a(300, 'a');
    const std::string b(300, 'b');
    std::thread w1(work, std::string_view(a));
    std::thread w2(work, std::string_view(b));
    while (running.load() > 0) {
      logger.setFormat(logger.format() == AccessLogFormat::kText ? AccessLogFormat::kJson
                                                                 : AccessLogFormat::kText);
      std::this_thread::yield();
    }
    w1.join();
    w2.join();
  }
  reader.join();
  close(fds[0]);

  // Every line is one whole text or JSON line of one writer.
  int lines = 0;
  size_t pos = 0;
  while (pos < received.size()) {
    const size_t nl = received.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    const std::string_view line(received.data() + pos, nl - pos);
    const bool text = line.starts_with("[") && line.ends_with(" - -");
    const bool json = line.starts_with("{") && line.ends_with("null}");
    EXPECT_TRUE(text || json) << line;
    const bool has_a = line.find(std::string(300, 'a')) != std::string_view::npos;
    const bool has_b = line.find(std::string(300, 'b')) != std::string_view::npos;
    EXPECT_NE(has_a, has_b) << line;
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 2 * kLines);
}

}  // namespace
}  // namespace halyard::telemetry
