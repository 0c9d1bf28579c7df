// The reference scenario (shared/seed): both files unchanged plus the Services and Endpoints of
// tests/e2e/fixtures/pirata-standalone/services.yaml translate to one listener on port 80 routing
// to loopback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "shared_corpus.h"
#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;
namespace fs = std::filesystem;

std::vector<std::string> seedFiles() {
  return {corpus::sharedPath("seed/deploy-item-gateway.yaml"),
          corpus::sharedPath("seed/deploy-front-gateway.yaml"),
          HALYARD_SOURCE_DIR "/tests/e2e/fixtures/pirata-standalone/services.yaml"};
}

// Every test here reads the seed from the external corpus: without it they skip.
class SeedTest : public ::testing::Test {
 protected:
  void SetUp() override { HALYARD_REQUIRE_SHARED_CORPUS(); }
};

TranslateResult translateSeed() {
  config::LoadResult loaded = config::loadPaths(seedFiles());
  EXPECT_TRUE(loaded.diagnostics.empty());
  return buildSnapshot(config::buildConfigSet(loaded.objects), ProxyIdentity{}, 7);
}

TEST_F(SeedTest, OneListenerOnPort80WithBothHosts) {
  TranslateResult r = translateSeed();
  const Snapshot& s = snapshotOf(r);
  EXPECT_EQ(s.version, 7u);
  EXPECT_TRUE(r.diagnostics.empty());
  ASSERT_EQ(s.listeners.size(), 1u);
  const Listener& l = s.listeners[0];
  EXPECT_EQ(l.port, 80);
  EXPECT_EQ(l.bind_address, "0.0.0.0");
  EXPECT_EQ(l.name, "0.0.0.0_80");
  EXPECT_EQ(l.protocol, "HTTP");
  ASSERT_EQ(l.routes->virtual_hosts.size(), 2u);
  EXPECT_EQ(l.routes->virtual_hosts[0].name, "pirata.20.88.189.150.nip.io:80");
  EXPECT_EQ(
      l.routes->virtual_hosts[0].domains,
      (std::vector<std::string>{"pirata.20.88.189.150.nip.io", "pirata.20.88.189.150.nip.io:80"}));
  EXPECT_EQ(l.routes->virtual_hosts[1].name, "piratafront.20.88.189.150.nip.io:80");
}

TEST_F(SeedTest, ApiRoutesByPrefix) {
  TranslateResult r = translateSeed();
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v = vhostFor(s, 80, "pirata.20.88.189.150.nip.io");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->routes.size(), 3u);
  const char* prefixes[] = {"/api", "/upload", "/predict"};
  const char* clusters[] = {"outbound|80||items-api-svc.default.svc.cluster.local",
                            "outbound|80||uploader-api-svc.default.svc.cluster.local",
                            "outbound|80||ai-api-svc.default.svc.cluster.local"};
  for (size_t i = 0; i < 3; ++i) {
    const Route& route = v->routes[i];
    ASSERT_TRUE(route.match.uri.has_value());
    EXPECT_EQ(route.match.uri->kind, StringMatcher::Kind::kPrefix);
    EXPECT_EQ(route.match.uri->value, prefixes[i]);
    const ForwardAction* f = forward(route);
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->clusters.size(), 1u);
    EXPECT_EQ(f->clusters[0].cluster, clusters[i]);
    EXPECT_EQ(f->total_weight, 1u);
    EXPECT_FALSE(f->timeout.has_value());
    EXPECT_EQ(f->retry.attempts, 2u);  // Istio's default retry policy
    EXPECT_EQ(route.origin, "default/api-virtual http[" + std::to_string(i) + "]");
  }
  const Cluster& items = s.clusters.at(clusters[0]);
  EXPECT_EQ(items.service_host, "items-api-svc.default.svc.cluster.local");
  EXPECT_EQ(items.service_name, "items-api-svc");
  EXPECT_EQ(items.service_namespace, "default");
  EXPECT_EQ(items.port, 80);
  EXPECT_EQ(items.lb, LbPolicy::kLeastRequest);
  ASSERT_EQ(items.endpoints.size(), 1u);
  EXPECT_EQ(items.endpoints[0].address, "127.0.0.1");
  EXPECT_EQ(items.endpoints[0].port, 9081);
  EXPECT_EQ(s.clusters.at(clusters[1]).endpoints.at(0).port, 9082);
  EXPECT_EQ(s.clusters.at(clusters[2]).endpoints.at(0).port, 9083);
}

TEST_F(SeedTest, FrontSplitKeepsOnlyTheWeightedDestination) {
  TranslateResult r = translateSeed();
  const Snapshot& s = snapshotOf(r);
  const VirtualHost* v = vhostFor(s, 80, "piratafront.20.88.189.150.nip.io");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->routes.size(), 1u);
  const ForwardAction* f = forward(v->routes[0]);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->clusters.size(), 1u);
  EXPECT_EQ(f->clusters[0].cluster, "outbound|80||front-svc.default.svc.cluster.local");
  EXPECT_EQ(f->total_weight, 100u);
  EXPECT_EQ(s.clusters.count("outbound|80||front-v2-svc.default.svc.cluster.local"), 0u);
  EXPECT_EQ(s.clusters.at("outbound|80||front-svc.default.svc.cluster.local").endpoints.at(0).port,
            9084);
}

TEST_F(SeedTest, RouterSelectsTheExpectedRoutes) {
  TranslateResult r = translateSeed();
  const Snapshot& s = snapshotOf(r);
  Request req;
  req.authority = "pirata.20.88.189.150.nip.io";
  req.path = "/upload/file?x=1";
  const Route* route = routeFor(s, 80, req);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(forward(*route)->clusters[0].cluster,
            "outbound|80||uploader-api-svc.default.svc.cluster.local");

  req.path = "/other";
  EXPECT_EQ(routeFor(s, 80, req), nullptr);  // 404 NR

  req.authority = "piratafront.20.88.189.150.nip.io:80";
  route = routeFor(s, 80, req);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(forward(*route)->clusters[0].cluster,
            "outbound|80||front-svc.default.svc.cluster.local");

  req.authority = "unknown.example.com";
  EXPECT_EQ(routeFor(s, 80, req), nullptr);
}

TEST_F(SeedTest, LoadSnapshotFromADirectory) {
  const fs::path dir =
      fs::temp_directory_path() / ("halyard-translate-seed-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& f : seedFiles()) fs::copy_file(f, dir / fs::path(f).filename());
  TranslateResult r = loadSnapshot(dir.string(), ProxyIdentity{}, 3);
  const Snapshot& s = snapshotOf(r);
  EXPECT_EQ(s.version, 3u);
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].routes->virtual_hosts.size(), 2u);
  EXPECT_EQ(s.clusters.size(), 4u);
  fs::remove_all(dir);
}

TEST_F(SeedTest, LoadSnapshotRejectsAnInvalidDirectoryWhole) {
  const fs::path dir =
      fs::temp_directory_path() / ("halyard-translate-bad-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& f : seedFiles()) fs::copy_file(f, dir / fs::path(f).filename());
  std::ofstream(dir / "broken.yaml") << R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: default}
spec:
  hosts: [x.example.com]
  gateways: [api-gateway]
  http:
  - route:
    - destination: {host: items-api-svc}
      weight: -5
)";
  TranslateResult r = loadSnapshot(dir.string(), ProxyIdentity{}, 4);
  EXPECT_EQ(r.snapshot, nullptr);
  bool error = false;
  for (const auto& d : r.diagnostics) error |= d.level == config::Level::kError;
  EXPECT_TRUE(error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace halyard::translate
