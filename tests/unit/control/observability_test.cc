#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "control/observability/control_metrics.h"
#include "control/observability/mesh_scraper.h"
#include "control/observability/prometheus_sd.h"
#include "control/observability/trace_collector.h"

namespace halyard::control {
namespace {

v1::ProxyStatus proxy(const std::string& name, const std::string& ns, const std::string& role,
                      const std::string& admin) {
  v1::ProxyStatus p;
  p.set_id(name + "." + ns);
  p.set_name(name);
  p.set_namespace_(ns);
  p.set_role(role);
  p.set_admin_address(admin);
  return p;
}

TEST(PrometheusSd, ListsTheControlPlaneAndEveryProxyWithAnAdminAddress) {
  v1::StatusResponse s;
  auto* a = s.add_proxies();
  *a = proxy("reviews-v2", "shop", "sidecar", "127.0.0.1:15102");
  (*a->mutable_labels())["app"] = "reviews";
  (*a->mutable_labels())["version"] = "v2";
  *s.add_proxies() = proxy("istio-ingressgateway", "istio-system", "gateway", "127.0.0.1:15000");
  *s.add_proxies() = proxy("no-admin", "shop", "sidecar", "");
  const auto groups = nlohmann::json::parse(prometheusSdJson(s, "127.0.0.1:15011"));
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0]["targets"], nlohmann::json::array({"127.0.0.1:15011"}));
  EXPECT_EQ(groups[0]["labels"]["__metrics_path__"], "/metrics");
  EXPECT_EQ(groups[0]["labels"]["role"], "control");

  const auto& sidecar = groups[1];
  EXPECT_EQ(sidecar["targets"], nlohmann::json::array({"127.0.0.1:15102"}));
  EXPECT_EQ(sidecar["labels"]["__metrics_path__"], "/stats/prometheus");
  EXPECT_EQ(sidecar["labels"]["name"], "reviews-v2");
  EXPECT_EQ(sidecar["labels"]["namespace"], "shop");
  EXPECT_EQ(sidecar["labels"]["role"], "sidecar");
  EXPECT_EQ(sidecar["labels"]["workload"], "reviews-v2");
  EXPECT_EQ(sidecar["labels"]["app"], "reviews");
  EXPECT_EQ(sidecar["labels"]["version"], "v2");
  EXPECT_EQ(sidecar["labels"]["proxy"], "reviews-v2.shop");

  // Without app/version labels: Istio's canonical defaults (the workload name, "unknown").
  EXPECT_EQ(groups[2]["labels"]["app"], "istio-ingressgateway");
  EXPECT_EQ(groups[2]["labels"]["version"], "unknown");
}

TEST(PrometheusSd, IsAnEmptyArrayWithNothingToScrape) {
  EXPECT_EQ(nlohmann::json::parse(prometheusSdJson(v1::StatusResponse{}, "")),
            nlohmann::json::array());
}

TEST(SecondsHistogram, RendersCumulativeBucketsSumAndCount) {
  SecondsHistogram h;
  h.record(std::chrono::microseconds(500));  // 0.0005 s: the first bucket
  h.record(std::chrono::milliseconds(30));   // (0.025, 0.05]
  h.record(std::chrono::seconds(60));        // above every bound
  std::string out;
  h.render(out, "x_seconds", "help");
  EXPECT_NE(out.find("# TYPE x_seconds histogram\n"), std::string::npos);
  EXPECT_NE(out.find("x_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{le=\"0.05\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{le=\"30\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_count 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_sum 60.0305\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace halyard::control

namespace halyard::control {
namespace {

TEST(MeshScraper, ParsesLabelsAndValuesOfOneMetric) {
  const std::string text =
      "# TYPE istio_requests_total counter\n"
      "istio_requests_total{reporter=\"destination\",source_workload=\"a\\\"b\","
      "response_code=\"200\"} 12\n"
      "istio_requests_total_other{x=\"y\"} 3\n"
      "istio_requests_total{reporter=\"source\",response_code=\"503\"} 2\n";
  const auto samples = MeshScraper::parse(text, "istio_requests_total");
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].labels.at("source_workload"), "a\"b");
  EXPECT_EQ(samples[0].labels.at("response_code"), "200");
  EXPECT_EQ(samples[0].value, 12);
  EXPECT_EQ(samples[1].labels.at("reporter"), "source");
  EXPECT_EQ(samples[1].value, 2);
}

// Runs one dashboard request to its answer on a private io_context.
nlohmann::json dashboardOf(const v1::StatusResponse& s) {
  asio::io_context io;
  MeshScraperOptions options;
  options.interval = std::chrono::milliseconds(0);
  MeshScraper scraper(
      io, [&s] { return s; }, options);
  std::string answer;
  scraper.dashboard(std::chrono::milliseconds(0), [&](std::string json) { answer = json; });
  io.run();
  return nlohmann::json::parse(answer);
}

TEST(MeshScraper, ListsProxiesEvenWhenTheyCannotBeScraped) {
  v1::StatusResponse s;
  auto* p = s.add_proxies();
  p->set_id("a.default");
  p->set_name("a");
  p->set_role("sidecar");
  p->set_admin_address("127.0.0.1:1");  // nothing listens there
  auto* q = s.add_proxies();
  q->set_id("b.default");
  q->set_admin_address("not-an-address");
  const auto doc = dashboardOf(s);
  ASSERT_EQ(doc["proxies"].size(), 2u);
  EXPECT_EQ(doc["proxies"][0]["scraped"], false);
  EXPECT_EQ(doc["proxies"][1]["scraped"], false);
  EXPECT_TRUE(doc["edges"].empty());
  EXPECT_EQ(doc["scrape"]["rounds"], 1);
}

TEST(MeshScraper, SummarizesEdgesServicesAndDenialsOfOneBody) {
  const std::string body =
      "# TYPE istio_requests_total counter\n"
      "istio_requests_total{reporter=\"destination\",source_workload=\"a\","
      "source_workload_namespace=\"default\",destination_workload=\"b\","
      "destination_service=\"b.default.svc.cluster.local\",response_code=\"200\","
      "connection_security_policy=\"mutual_tls\"} 7\n"
      "istio_requests_total{reporter=\"destination\",source_workload=\"a\","
      "destination_workload=\"b\",destination_service=\"b.default.svc.cluster.local\","
      "response_code=\"403\",source_principal=\"spiffe://cluster.local/ns/default/sa/a\"} 2\n"
      "istio_requests_total{reporter=\"source\",destination_service=\"c\","
      "response_code=\"503\"} 3\n"
      "istio_request_duration_milliseconds_bucket{reporter=\"source\",destination_service=\"c\","
      "le=\"10\"} 1\n"
      "istio_request_duration_milliseconds_bucket{reporter=\"source\",destination_service=\"c\","
      "le=\"+Inf\"} 3\n";
  const auto t = MeshScraper::summarize(body, false);
  ASSERT_EQ(t.edges.size(), 1u);
  const auto& e = t.edges.at("a|b|b.default.svc.cluster.local");
  EXPECT_EQ(e.requests, 9);
  EXPECT_EQ(e.errors, 0);
  EXPECT_TRUE(e.mtls);
  ASSERT_EQ(t.denials.size(), 1u);
  EXPECT_EQ(t.denials[0].code, "403");
  EXPECT_EQ(t.denials[0].source_namespace, "unknown");
  EXPECT_EQ(t.denials[0].principal, "spiffe://cluster.local/ns/default/sa/a");
  const auto& c = t.services.at("c");
  EXPECT_EQ(c.requests, 3);
  EXPECT_EQ(c.errors, 3);
  EXPECT_EQ(c.buckets.size(), 2u);
}

TEST(MeshScraper, ReadsTheLabelsOfAHistogramOncePerSeries) {
  // Buckets of one series share everything before le; the next series differs before it.
  auto bucket = [](const char* reporter, const char* service, const char* le, int count) {
    return std::string("istio_request_duration_milliseconds_bucket{reporter=\"") + reporter +
           "\",destination_service=\"" + service + "\",le=\"" + le + "\"} " +
           std::to_string(count) + "\n";
  };
  const std::string body = bucket("source", "c", "10", 1) + bucket("source", "c", "+Inf", 3) +
                           bucket("destination", "c", "10", 50) +
                           bucket("destination", "c", "+Inf", 60) + bucket("source", "d", "5", 2) +
                           bucket("source", "d", "+Inf", 4);
  const auto t = MeshScraper::summarize(body, false);
  ASSERT_EQ(t.services.size(), 2u);
  EXPECT_EQ(t.services.at("c").buckets, (std::map<double, double>{{10, 1}, {INFINITY, 3}}));
  EXPECT_EQ(t.services.at("d").buckets, (std::map<double, double>{{5, 2}, {INFINITY, 4}}));
}

TEST(MeshScraper, ScrapesProxiesConcurrentlyAndComputesRatesOverRounds) {
  // A tiny admin endpoint that answers every connection with a body whose counter grows.
  asio::io_context server_io;
  asio::ip::tcp::acceptor acceptor(server_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  int served = 0;
  std::function<void()> acceptOne = [&] {
    acceptor.async_accept([&](std::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      auto sock = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      auto head = std::make_shared<asio::streambuf>();
      asio::async_read_until(*sock, *head, "\r\n\r\n", [&, sock, head](std::error_code, size_t) {
        ++served;
        const std::string body =
            "istio_requests_total{reporter=\"destination\",source_workload=\"a\","
            "destination_workload=\"b\",destination_service=\"b\",response_code=\"200\"} " +
            std::to_string(served * 10) + "\n";
        auto text = std::make_shared<std::string>(
            "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body);
        asio::async_write(*sock, asio::buffer(*text), [sock, text](std::error_code, size_t) {
          std::error_code ignored;
          sock->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        });
      });
      acceptOne();
    });
  };
  acceptOne();
  std::thread server([&] { server_io.run(); });

  v1::StatusResponse s;
  for (int i = 0; i < 3; ++i) {
    auto* p = s.add_proxies();
    p->set_id("p" + std::to_string(i));
    p->set_role("sidecar");
    p->set_admin_address("127.0.0.1:" + std::to_string(port));
  }
  asio::io_context io;
  MeshScraperOptions options;
  options.interval = std::chrono::milliseconds(0);
  options.concurrency = 2;
  MeshScraper scraper(
      io, [&s] { return s; }, options);
  std::vector<nlohmann::json> answers;
  auto ask = [&] {
    scraper.dashboard(std::chrono::milliseconds(0),
                      [&](std::string json) { answers.push_back(nlohmann::json::parse(json)); });
    io.restart();
    io.run();
  };
  ask();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ask();
  server_io.stop();
  server.join();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0]["scrape"]["scraped"], 3);
  EXPECT_TRUE(answers[0]["edges"][0]["rps"].is_null());  // one round: counts, no rates
  const auto& edge = answers[1]["edges"][0];
  EXPECT_EQ(edge["requests"], 10 * (4 + 5 + 6));  // the second round's three bodies
  EXPECT_GT(edge["rps"].get<double>(), 0);
  EXPECT_EQ(answers[1]["services"].size(), 0u);
}

TEST(MeshScraper, KeepsTheConnectionAliveAndReconnectsWhenTheProxyClosedIt) {
  // An admin endpoint that answers requests one after the other on a connection, as the
  // proxy's does, and closes its first connection after two answers (a restart, an idle
  // timeout): the scraper sends the third on the closed connection, then again on a new one.
  asio::io_context server_io;
  asio::ip::tcp::acceptor acceptor(server_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  int accepted = 0, served = 0;
  std::vector<std::string> targets;
  std::function<void(std::shared_ptr<asio::ip::tcp::socket>, int)> serveOne;
  serveOne = [&](std::shared_ptr<asio::ip::tcp::socket> sock, int answered) {
    auto head = std::make_shared<asio::streambuf>();
    asio::async_read_until(
        *sock, *head, "\r\n\r\n", [&, sock, head, answered](std::error_code ec, size_t) {
          if (ec) return;
          std::string request(asio::buffers_begin(head->data()), asio::buffers_end(head->data()));
          targets.push_back(request.substr(0, request.find("\r\n")));
          ++served;
          const std::string body =
              "istio_requests_total{reporter=\"destination\",source_workload=\"a\","
              "destination_workload=\"b\",destination_service=\"b\",response_code=\"200\"} " +
              std::to_string(served * 10) + "\n";
          auto text = std::make_shared<std::string>(
              "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
              body);
          asio::async_write(*sock, asio::buffer(*text),
                            [&, sock, text, answered](std::error_code, size_t) {
                              if (accepted == 1 && answered + 1 == 2) {
                                std::error_code ignored;
                                sock->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                                sock->close(ignored);
                                return;
                              }
                              serveOne(sock, answered + 1);
                            });
        });
  };
  std::function<void()> acceptOne = [&] {
    acceptor.async_accept([&](std::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      ++accepted;
      serveOne(std::make_shared<asio::ip::tcp::socket>(std::move(socket)), 0);
      acceptOne();
    });
  };
  acceptOne();
  std::thread server([&] { server_io.run(); });

  v1::StatusResponse s;
  auto* p = s.add_proxies();
  p->set_id("p0");
  p->set_role("sidecar");
  p->set_admin_address("127.0.0.1:" + std::to_string(port));
  asio::io_context io;
  MeshScraperOptions options;
  options.interval = std::chrono::milliseconds(0);
  MeshScraper scraper(
      io, [&s] { return s; }, options);
  std::vector<nlohmann::json> answers;
  for (int round = 0; round < 3; ++round) {
    scraper.dashboard(std::chrono::milliseconds(0),
                      [&](std::string json) { answers.push_back(nlohmann::json::parse(json)); });
    io.restart();
    io.run_for(std::chrono::seconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server_io.stop();
  server.join();
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) EXPECT_EQ(a["scrape"]["scraped"], 1) << a["scrape"];
  EXPECT_EQ(served, 3);
  EXPECT_EQ(accepted, 2);  // rounds 1-2 on one connection, round 3 on a new one
  ASSERT_FALSE(targets.empty());
  // Only the families the dashboard reads.
  EXPECT_EQ(
      targets[0],
      "GET /stats/prometheus?filter=%5Eistio_request%28s_total%7C_duration_milliseconds%29%24 "
      "HTTP/1.1");
}

TEST(TraceCollector, KeepsRecentTracesWithTheirRootAndRefusesWhatIsNotSpans) {
  TraceCollector c(/*max_traces=*/2, /*max_spans_per_trace=*/3);
  EXPECT_FALSE(c.add("{\"not\": \"an array\"}"));
  EXPECT_FALSE(c.add("garbage"));
  // The child arrives before its root (proxies export on their own schedules).
  ASSERT_TRUE(c.add(R"([{"traceId":"t1","id":"b","parentId":"a","name":"reviews:9080/*",
      "kind":"SERVER","timestamp":1000200,"duration":300,
      "localEndpoint":{"serviceName":"reviews.default"},"tags":{"http.status_code":"503"}}])"));
  ASSERT_TRUE(c.add(R"([{"traceId":"t1","id":"a","name":"shop.example.com:80/*","kind":"SERVER",
      "timestamp":1000000,"duration":1000,
      "localEndpoint":{"serviceName":"istio-ingressgateway.istio-system"}},
      {"traceId":"t2","id":"c","timestamp":5,"duration":1},{"id":"no-trace"}])"));
  auto recent = nlohmann::json::parse(c.recentJson());
  ASSERT_EQ(recent["traces"].size(), 2u);
  EXPECT_EQ(recent["traces"][1]["trace_id"], "t1");  // newest first
  EXPECT_EQ(recent["traces"][1]["root_service"], "istio-ingressgateway.istio-system");
  EXPECT_EQ(recent["traces"][1]["duration_us"], 1000);
  EXPECT_EQ(recent["traces"][1]["spans"], 2);
  EXPECT_EQ(recent["traces"][1]["errors"], 1);
  auto trace = nlohmann::json::parse(c.traceJson("t1"));
  ASSERT_EQ(trace["spans"].size(), 2u);
  EXPECT_EQ(trace["spans"][0]["id"], "a");  // by start time
  EXPECT_EQ(trace["spans"][1]["parent_id"], "a");
  EXPECT_TRUE(trace["spans"][1]["error"]);
  // A third trace pushes the oldest out.
  ASSERT_TRUE(c.add(R"([{"traceId":"t3","id":"d","timestamp":7,"duration":1}])"));
  EXPECT_TRUE(nlohmann::json::parse(c.traceJson("t1"))["spans"].is_null());
  EXPECT_EQ(c.spansReceived(), 4u);
}

}  // namespace
}  // namespace halyard::control
