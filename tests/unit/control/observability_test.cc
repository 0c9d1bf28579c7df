#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "control/observability/control_metrics.h"
#include "control/observability/mesh_scraper.h"
#include "control/observability/prometheus_sd.h"

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

TEST(MeshScraper, ListsProxiesEvenWhenTheyCannotBeScraped) {
  v1::StatusResponse s;
  auto* p = s.add_proxies();
  p->set_id("a.default");
  p->set_name("a");
  p->set_role("sidecar");
  p->set_admin_address("127.0.0.1:1");  // nothing listens there
  MeshScraper scraper;
  const auto doc = nlohmann::json::parse(scraper.dashboardJson(s));
  ASSERT_EQ(doc["proxies"].size(), 1u);
  EXPECT_EQ(doc["proxies"][0]["scraped"], false);
  EXPECT_TRUE(doc["edges"].empty());
}

}  // namespace
}  // namespace halyard::control
