#include "proxy/upstream/load_balancer.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <map>

namespace halyard::proxy::upstream {
namespace {

namespace tr = halyard::translate;

struct Fixture {
  explicit Fixture(tr::LbPolicy lb, int hosts, std::vector<uint32_t> weights = {}) {
    auto c = std::make_shared<tr::Cluster>();
    c->name = "outbound|80||svc.default.svc.cluster.local";
    c->lb = lb;
    for (int i = 0; i < hosts; ++i) {
      c->endpoints.push_back(tr::Endpoint{"10.0.0." + std::to_string(i + 1), 8080});
      if (!weights.empty()) c->endpoints.back().weight = weights[static_cast<size_t>(i)];
    }
    cluster = std::make_shared<ClusterHosts>(c, pool, io.get_executor());
  }
  asio::io_context io;
  ConnectionPool pool{io.get_executor(), PoolOptions{}};
  std::shared_ptr<ClusterHosts> cluster;
  FastRandom random{42};
};

TEST(LoadBalancer, EmptyClusterHasNoHost) {
  Fixture f(tr::LbPolicy::kRoundRobin, 0);
  EXPECT_EQ(pickHost(*f.cluster, f.random, {}), nullptr);
}

TEST(LoadBalancer, RoundRobinCyclesInOrder) {
  Fixture f(tr::LbPolicy::kRoundRobin, 3);
  std::vector<std::string> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(pickHost(*f.cluster, f.random, {})->name);
  EXPECT_EQ(picks, (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080",
                                             "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"}));
}

TEST(LoadBalancer, RandomReachesEveryHost) {
  Fixture f(tr::LbPolicy::kRandom, 4);
  std::map<std::string, int> seen;
  for (int i = 0; i < 400; ++i) ++seen[pickHost(*f.cluster, f.random, {})->name];
  ASSERT_EQ(seen.size(), 4u);
  for (const auto& [name, n] : seen) EXPECT_GT(n, 50) << name;
}

TEST(LoadBalancer, LeastRequestPrefersTheLessBusyOfTwo) {
  Fixture f(tr::LbPolicy::kLeastRequest, 2);
  f.cluster->hosts()[0]->active_requests = 10;
  int second = 0;
  for (int i = 0; i < 200; ++i)
    second += pickHost(*f.cluster, f.random, {}) == f.cluster->hosts()[1].get();
  // The two choices are distinct hosts: with two hosts, the less busy one always wins.
  EXPECT_EQ(second, 200);
}

TEST(LoadBalancer, TriedHostsAreAvoidedWhileOthersExist) {
  for (auto lb : {tr::LbPolicy::kRoundRobin, tr::LbPolicy::kRandom, tr::LbPolicy::kLeastRequest}) {
    Fixture f(lb, 3);
    UpstreamHost* tried[] = {f.cluster->hosts()[0].get(), f.cluster->hosts()[2].get()};
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(pickHost(*f.cluster, f.random, tried), f.cluster->hosts()[1].get());
    }
    UpstreamHost* all[] = {f.cluster->hosts()[0].get(), f.cluster->hosts()[1].get(),
                           f.cluster->hosts()[2].get()};
    EXPECT_NE(pickHost(*f.cluster, f.random, all), nullptr);  // all tried: any host will do
  }
}

TEST(LoadBalancer, HostsAreSharedThroughThePoolAcrossSnapshots) {
  Fixture f(tr::LbPolicy::kRoundRobin, 2);
  auto again = std::make_shared<ClusterHosts>(std::make_shared<tr::Cluster>(f.cluster->cluster()),
                                              f.pool, f.io.get_executor());
  EXPECT_EQ(again->hosts()[0], f.cluster->hosts()[0]);
}

TEST(LoadBalancer, WeightsScaleEveryPolicy) {
  for (auto lb : {tr::LbPolicy::kRoundRobin, tr::LbPolicy::kRandom, tr::LbPolicy::kLeastRequest}) {
    Fixture f(lb, 2, {3, 1});
    ASSERT_TRUE(f.cluster->weighted());
    int first = 0;
    for (int i = 0; i < 4000; ++i)
      first += pickHost(*f.cluster, f.random, {}) == f.cluster->hosts()[0].get();
    EXPECT_GT(first, 2700) << static_cast<int>(lb);
    EXPECT_LT(first, 3300) << static_cast<int>(lb);
  }
}

TEST(LoadBalancer, SmoothWeightedRoundRobinInterleaves) {
  Fixture f(tr::LbPolicy::kRoundRobin, 3, {5, 1, 1});
  std::string order;
  for (int i = 0; i < 7; ++i) {
    order += pickHost(*f.cluster, f.random, {})->name.substr(7, 1);  // "10.0.0.N:8080"
  }
  EXPECT_EQ(order, "1121311");
}

}  // namespace
}  // namespace halyard::proxy::upstream
