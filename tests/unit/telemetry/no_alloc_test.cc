// Recording a request whose label set was seen before, bumping a counter found by name, and
// logging a line must not allocate: count global operator new calls around them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "count_allocations.h"
#include "telemetry/access_logger.h"
#include "telemetry/worker_stats.h"

namespace halyard::telemetry {
namespace {

TEST(NoAlloc, RecordRequestWithKnownLabels) {
  WorkerStats w;
  // Label values in storage of their own, like a request's buffers, distinct from the first call.
  std::string service = "reviews.default.svc.cluster.local";
  IstioRequestLabels l;
  l.destination_service = service;
  l.destination_service_name = "reviews";
  l.response_code = 503;
  l.response_flags = {ResponseFlag::kNoHealthyUpstream};
  const long first = test_support::allocations();
  w.recordRequest(l, 1, 2, 3);  // first sighting: allocates (and proves the count works)
  EXPECT_GT(test_support::allocations() - first, 0);
  w.counter("envoy_cluster_upstream_rq_total", {{"cluster_name", service}}).inc();

  std::string service_again = service;
  l.destination_service = service_again;
  const long before = test_support::allocations();
  for (int i = 0; i < 1000; ++i) {
    w.recordRequest(l, static_cast<uint64_t>(i), 100, 2000);
    w.counter("envoy_cluster_upstream_rq_total", {{"cluster_name", service_again}}).inc();
  }
  EXPECT_EQ(test_support::allocations() - before, 0);
}

TEST(NoAlloc, AccessLogLine) {
  AccessLogger logger;
  ASSERT_TRUE(logger.open("/dev/null").ok());
  AccessLogWriter w(logger);
  AccessLogEntry e;
  e.method = "GET";
  e.path = "/a/fairly/long/path/with/a?query=string";
  e.protocol = "HTTP/1.1";
  e.response_code = 200;
  e.user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36";
  e.authority = "shop.example.com";
  e.upstream_service_time = std::chrono::milliseconds(3);
  w.log(e);  // warm-up
  const long before = test_support::allocations();
  for (int i = 0; i < 1000; ++i) {
    logger.setFormat(i % 2 ? AccessLogFormat::kJson : AccessLogFormat::kText);
    w.log(e);  // flushes to /dev/null every few dozen lines
  }
  EXPECT_EQ(test_support::allocations() - before, 0);
}

}  // namespace
}  // namespace halyard::telemetry
