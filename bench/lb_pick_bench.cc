// Host selection cost per request, in isolation: the work a load-balancing policy adds to a
// request (the key hashed from a header or cookie, the ring or Maglev lookup, the power of two
// choices), for 4 and 64 endpoints, with and without outlier detection (the general path).
//   ninja -C build lb_pick_bench && ./build/bin/lb_pick_bench
// bench/lb_bench.py measures the whole proxy; this says how much of a request's CPU the policy
// itself can account for.
#include <benchmark/benchmark.h>

#include <asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "proxy/upstream/hash_key.h"
#include "proxy/upstream/load_balancer.h"

namespace {

namespace tr = halyard::translate;
namespace up = halyard::proxy::upstream;
namespace http = halyard::proxy::http;

enum Policy { kRoundRobin, kLeastRequest, kRandom, kHeaderRing, kHeaderMaglev, kCookieRing };

struct Setup {
  Setup(Policy policy, int hosts, bool outlier) {
    auto c = std::make_shared<tr::Cluster>();
    c->name = "outbound|80||bench";
    c->lb = policy == kRoundRobin ? tr::LbPolicy::kRoundRobin
            : policy == kRandom   ? tr::LbPolicy::kRandom
                                  : tr::LbPolicy::kLeastRequest;
    for (int i = 0; i < hosts; ++i) {
      c->endpoints.push_back(tr::Endpoint{
          "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 8080});
    }
    if (outlier) c->outlier = tr::OutlierPolicy{};
    if (policy == kHeaderRing || policy == kHeaderMaglev || policy == kCookieRing) {
      tr::HashPolicy h;
      h.key = policy == kCookieRing ? tr::HashPolicy::Key::kCookie : tr::HashPolicy::Key::kHeader;
      h.name = policy == kCookieRing ? "session" : "x-user";
      h.maglev = policy == kHeaderMaglev;
      h.cookie_ttl = std::chrono::milliseconds(-1);
      c->hash = h;
    }
    cluster = std::make_shared<up::ClusterHosts>(c, pool, io.get_executor());
    for (int u = 0; u < 1000; ++u) {
      users.push_back("user-" + std::to_string(u));
      cookies.push_back("a=1; session=user-" + std::to_string(u));
    }
  }
  asio::io_context io;
  up::ConnectionPool pool{io.get_executor(), up::PoolOptions{}};
  std::shared_ptr<up::ClusterHosts> cluster;
  up::FastRandom random{1};
  std::vector<std::string> users;
  std::vector<std::string> cookies;
};

void BM_Pick(benchmark::State& state) {
  const auto policy = static_cast<Policy>(state.range(0));
  Setup s(policy, static_cast<int>(state.range(1)), state.range(2) != 0);
  const tr::Cluster& config = s.cluster->cluster();
  size_t n = 0;
  for (auto _ : state) {
    std::optional<uint64_t> hash;
    if (config.hash) {
      const size_t u = n++ % s.users.size();
      http::HeaderView headers[2] = {{"x-user", s.users[u]}, {"cookie", s.cookies[u]}};
      http::RequestView view;
      view.path = "/";
      view.headers = headers;
      hash = up::requestHash(*config.hash, view, "10.1.1.1", "conn").hash;
    }
    up::UpstreamHost* h = up::pickHost(*s.cluster, s.random, {}, hash);
    benchmark::DoNotOptimize(h);
  }
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"policy", "hosts", "outlier"});
  for (int policy = kRoundRobin; policy <= kCookieRing; ++policy) {
    for (int hosts : {4, 64}) {
      for (int outlier : {0, 1}) b->Args({policy, hosts, outlier});
    }
  }
}

BENCHMARK(BM_Pick)->Apply(args);

}  // namespace

BENCHMARK_MAIN();
