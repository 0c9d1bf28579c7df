// The proxy side of DestinationRule traffic policy: circuit-breaker slots, outlier detection
// (streaks, ejection time growing with each ejection, maxEjectionPercent), host selection that
// skips ejected hosts (and panics below minHealthPercent), consistent hashing (ring and
// Maglev), locality priorities and distribute, and the hash keys of requests.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <map>
#include <set>
#include <thread>

#include "proxy/net/awaitable.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/hash_key.h"
#include "proxy/upstream/hash_ring.h"
#include "proxy/upstream/load_balancer.h"
#include "proxy/upstream/locality_plan.h"
#include "proxy/upstream/outlier_detector.h"

namespace halyard::proxy::upstream {
namespace {

namespace tr = halyard::translate;
using std::chrono::milliseconds;

constexpr int64_t kSecond = 1'000'000'000;

// Ejects host i of `c` for a minute, as the outlier detector would.
void ejectNow(ClusterHosts& c, size_t i) {
  const int64_t until = steadyNowNs() + 60 * kSecond;
  c.health(i).ejected_until = until;
  c.state().ejections_end = until;
}

struct Fixture {
  explicit Fixture(int hosts, std::function<void(tr::Cluster&)> configure = {}) {
    auto c = std::make_shared<tr::Cluster>();
    c->name = "outbound|80||svc.default.svc.cluster.local";
    c->lb = tr::LbPolicy::kRoundRobin;
    for (int i = 0; i < hosts; ++i) {
      c->endpoints.push_back(tr::Endpoint{"10.0.0." + std::to_string(i + 1), 8080});
    }
    if (configure) configure(*c);
    cluster = std::make_shared<ClusterHosts>(c, pool, io.get_executor());
  }
  std::string pick(std::optional<uint64_t> hash = std::nullopt) {
    UpstreamHost* h = pickHost(*cluster, random, {}, hash);
    return h ? h->name : "none";
  }
  asio::io_context io;
  ConnectionPool pool{io.get_executor(), PoolOptions{}};
  std::shared_ptr<ClusterHosts> cluster;
  FastRandom random{7};
};

TEST(CircuitBreaker, SlotsCountUpToTheLimitAndGiveBack) {
  std::atomic<uint32_t> counter{0};
  Slot a = Slot::acquire(counter, 2);
  Slot b = Slot::acquire(counter, 2);
  Slot c = Slot::acquire(counter, 2);
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(c);
  EXPECT_EQ(counter.load(), 2u);
  a.release();
  EXPECT_TRUE(Slot::acquire(counter, 2));
  Slot unlimited = Slot::acquire(counter, 0);  // no limit: still counted
  EXPECT_TRUE(unlimited);
  EXPECT_EQ(counter.load(), 2u);
  unlimited.detach();  // now owned elsewhere: not given back here
  unlimited = Slot();
  EXPECT_EQ(counter.load(), 2u);
}

tr::OutlierPolicy outlier(uint32_t consecutive_5xx, uint32_t max_percent = 100) {
  tr::OutlierPolicy p;
  p.consecutive_5xx = consecutive_5xx;
  p.max_ejection_percent = max_percent;
  p.base_ejection_time = milliseconds(1000);
  p.interval = milliseconds(1000);
  return p;
}

TEST(OutlierDetection, ConsecutiveFivexxEjectsAndSuccessResets) {
  ClusterState state;
  HostHealth a, b;
  std::vector<HostHealth*> hosts{&a, &b};
  const tr::OutlierPolicy policy = outlier(3);
  OutlierDetector d(policy, state, hosts);
  EXPECT_EQ(d.response(a, 500, 0), Ejection::kNone);
  EXPECT_EQ(d.response(a, 503, 0), Ejection::kNone);
  EXPECT_EQ(d.response(a, 200, 0), Ejection::kNone);  // the streak starts over
  EXPECT_EQ(d.response(a, 500, 0), Ejection::kNone);
  EXPECT_EQ(d.response(a, 500, 0), Ejection::kNone);
  EXPECT_EQ(d.response(a, 500, 10), Ejection::kConsecutive5xx);
  EXPECT_TRUE(a.ejected(10));
  EXPECT_TRUE(a.ejected(10 + kSecond - 1));
  EXPECT_FALSE(a.ejected(10 + kSecond));  // baseEjectionTime x 1
  EXPECT_FALSE(b.ejected(10));
}

TEST(OutlierDetection, EjectionTimeGrowsWithEachEjection) {
  ClusterState state;
  HostHealth a;
  std::vector<HostHealth*> hosts{&a};
  const tr::OutlierPolicy policy = outlier(1);
  OutlierDetector d(policy, state, hosts);
  EXPECT_EQ(d.response(a, 500, 0), Ejection::kConsecutive5xx);
  EXPECT_FALSE(a.ejected(kSecond));
  // Failing again right away: ejected for twice as long.
  EXPECT_EQ(d.response(a, 500, kSecond), Ejection::kConsecutive5xx);
  EXPECT_TRUE(a.ejected(kSecond + 2 * kSecond - 1));
  EXPECT_FALSE(a.ejected(3 * kSecond));
}

TEST(OutlierDetection, GatewayErrorsAndLocalOriginFailures) {
  ClusterState state;
  HostHealth a, b;
  std::vector<HostHealth*> hosts{&a, &b};
  tr::OutlierPolicy policy = outlier(0);
  policy.consecutive_gateway_errors = 2;
  OutlierDetector d(policy, state, hosts);
  EXPECT_EQ(d.response(a, 500, 0), Ejection::kNone);  // not a gateway error
  EXPECT_EQ(d.response(a, 502, 0), Ejection::kNone);
  // A connect failure counts as a 503 without splitExternalLocalOriginErrors.
  EXPECT_EQ(d.localFailure(a, LocalOrigin::kConnectFailure, 0), Ejection::kConsecutiveGateway);

  tr::OutlierPolicy split = outlier(5);
  split.split_external_local_origin_errors = true;
  split.consecutive_local_origin_failures = 2;
  OutlierDetector s(split, state, hosts);
  EXPECT_EQ(s.localFailure(b, LocalOrigin::kTimeout, 0), Ejection::kNone);
  s.connected(b);  // a successful connect resets the local-origin streak
  EXPECT_EQ(s.localFailure(b, LocalOrigin::kTimeout, 0), Ejection::kNone);
  EXPECT_EQ(s.localFailure(b, LocalOrigin::kReset, 0), Ejection::kConsecutiveLocalOrigin);
}

TEST(OutlierDetection, MaxEjectionPercentKeepsHostsInService) {
  ClusterState state;
  HostHealth a, b, c;
  std::vector<HostHealth*> hosts{&a, &b, &c};
  const tr::OutlierPolicy policy = outlier(1, 10);
  OutlierDetector d(policy, state, hosts);
  // One host may always be ejected; a second would make 66% > 10%.
  EXPECT_EQ(d.response(a, 500, 0), Ejection::kConsecutive5xx);
  EXPECT_EQ(d.response(b, 500, 0), Ejection::kOverflow);
  EXPECT_FALSE(b.ejected(0));
}

TEST(OutlierDetection, ErrorCodesReplaceFivexx) {
  ClusterState state;
  HostHealth a;
  std::vector<HostHealth*> hosts{&a};
  tr::OutlierPolicy policy = outlier(1);
  policy.error_codes = {429};
  OutlierDetector d(policy, state, hosts);
  EXPECT_EQ(d.response(a, 500, 0), Ejection::kNone);
  EXPECT_EQ(d.response(a, 429, 0), Ejection::kConsecutive5xx);
}

TEST(HostSelection, EjectedHostsAreSkippedUntilTheyReturn) {
  Fixture f(3, [](tr::Cluster& c) { c.outlier = outlier(1); });
  ejectNow(*f.cluster, 1);
  std::set<std::string> seen;
  for (int i = 0; i < 30; ++i) seen.insert(f.pick());
  EXPECT_EQ(seen, (std::set<std::string>{"10.0.0.1:8080", "10.0.0.3:8080"}));
  f.cluster->health(1).ejected_until = steadyNowNs() - 1;
  seen.clear();
  for (int i = 0; i < 30; ++i) seen.insert(f.pick());
  EXPECT_EQ(seen.size(), 3u);
}

TEST(HostSelection, AllEjectedMeansNoHostUnlessPanic) {
  Fixture f(2, [](tr::Cluster& c) { c.outlier = outlier(1); });
  for (int i = 0; i < 2; ++i) ejectNow(*f.cluster, i);
  EXPECT_EQ(f.pick(), "none");
  Fixture panic(2, [](tr::Cluster& c) {
    c.outlier = outlier(1);
    c.outlier->min_health_percent = 50;
  });
  ejectNow(*panic.cluster, 0);
  ejectNow(*panic.cluster, 1);
  EXPECT_NE(panic.pick(), "none");  // below the panic threshold every host is used
}

TEST(HostSelection, EjectionIsSharedByEveryWorkersView) {
  // Two workers' views of one cluster, through one SharedUpstream.
  auto shared = std::make_shared<SharedUpstream>();
  asio::io_context io;
  ConnectionPool pool1{io.get_executor(), PoolOptions{.shared = shared}};
  ConnectionPool pool2{io.get_executor(), PoolOptions{.shared = shared}};
  auto c = std::make_shared<tr::Cluster>();
  c->name = "outbound|80||svc";
  c->outlier = outlier(1);
  c->endpoints = {tr::Endpoint{"10.0.0.1", 80}, tr::Endpoint{"10.0.0.2", 80}};
  ClusterHosts one(c, pool1, io.get_executor());
  ClusterHosts two(c, pool2, io.get_executor());
  ASSERT_NE(one.outlier(), nullptr);
  one.outlier()->response(one.health(0), 500, steadyNowNs());
  EXPECT_TRUE(two.health(0).ejected(steadyNowNs()));
  FastRandom random(1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pickHost(two, random, {})->name, "10.0.0.2:80");
}

TEST(HashRing, SameKeySameHostAndKeysSpread) {
  for (bool maglev : {false, true}) {
    Fixture f(4, [&](tr::Cluster& c) {
      c.hash = tr::HashPolicy{};
      c.hash->maglev = maglev;
    });
    std::map<std::string, int> spread;
    for (int user = 0; user < 400; ++user) {
      const uint64_t h = hashKey("user-" + std::to_string(user));
      const std::string first = f.pick(h);
      for (int again = 0; again < 3; ++again) EXPECT_EQ(f.pick(h), first);
      ++spread[first];
    }
    ASSERT_EQ(spread.size(), 4u) << "maglev " << maglev;
    for (const auto& [host, n] : spread) EXPECT_GT(n, 50) << host << " maglev " << maglev;
  }
}

TEST(HashRing, AnEjectedHostsKeysMoveAndOnlyThose) {
  Fixture f(4, [](tr::Cluster& c) {
    c.hash = tr::HashPolicy{};
    c.outlier = outlier(1);
  });
  std::map<int, std::string> before;
  for (int user = 0; user < 200; ++user) before[user] = f.pick(hashKey(std::to_string(user)));
  ejectNow(*f.cluster, 2);
  for (int user = 0; user < 200; ++user) {
    const std::string now = f.pick(hashKey(std::to_string(user)));
    EXPECT_NE(now, "10.0.0.3:8080");
    if (before[user] != "10.0.0.3:8080") {
      EXPECT_EQ(now, before[user]);
    }
  }
}

TEST(HashRing, MaglevTableSizeIsPrimeAndWeightsCount) {
  HashRing m = HashRing::maglev({"a", "b"}, {3, 1}, 100);
  EXPECT_EQ(m.size(), 101u);
  std::map<uint32_t, int> share;
  for (uint64_t k = 0; k < 4000; ++k) ++share[m.pick(hashKey(std::to_string(k)))];
  EXPECT_GT(share[0], 2 * share[1]);
}

TEST(Locality, FailoverPrioritiesFollowTheProxysLocality) {
  tr::Endpoint same{"10.0.0.1", 80};
  same.locality = "r1/z1";
  tr::Endpoint zone{"10.0.0.2", 80};
  zone.locality = "r1/z2";
  tr::Endpoint target{"10.0.0.3", 80};
  target.locality = "r3/z1";
  tr::Endpoint other{"10.0.0.4", 80};
  other.locality = "r2/z1";
  tr::LocalityLbPolicy policy;
  policy.failover = {{"r1", "r3"}};
  const LocalityPlan plan = planLocality(policy, "r1/z1", {}, {&same, &zone, &target, &other});
  EXPECT_EQ(plan.priority, (std::vector<uint32_t>{0, 2, 3, 4}));
  // No proxy locality: one priority for all.
  EXPECT_EQ(planLocality(policy, "", {}, {&same, &zone}).priority, (std::vector<uint32_t>{0, 0}));
}

TEST(Locality, FailoverPriorityLabels) {
  tr::Endpoint a{"10.0.0.1", 80};
  a.labels = {{"net", "n1"}, {"rack", "k1"}};
  tr::Endpoint b{"10.0.0.2", 80};
  b.labels = {{"net", "n1"}, {"rack", "k2"}};
  tr::Endpoint c{"10.0.0.3", 80};
  c.labels = {{"net", "n2"}, {"rack", "k1"}};
  tr::LocalityLbPolicy policy;
  policy.failover_priority = {"net", "rack"};
  const LocalityPlan plan = planLocality(policy, "", {{"net", "n1"}, {"rack", "k1"}}, {&a, &b, &c});
  EXPECT_EQ(plan.priority, (std::vector<uint32_t>{0, 1, 2}));
}

TEST(HostSelection, LocalityFailsOverWhenTheBestPriorityIsEjected) {
  auto shared = std::make_shared<SharedUpstream>();
  shared->setProxy("r1/z1", {});
  asio::io_context io;
  ConnectionPool pool{io.get_executor(), PoolOptions{.shared = shared}};
  auto c = std::make_shared<tr::Cluster>();
  c->name = "outbound|80||svc";
  c->outlier = outlier(1);
  c->locality_lb = tr::LocalityLbPolicy{};
  c->endpoints = {tr::Endpoint{"10.0.0.1", 80}, tr::Endpoint{"10.0.0.2", 80}};
  c->endpoints[0].locality = "r2/z1";
  c->endpoints[1].locality = "r1/z1";
  ClusterHosts hosts(c, pool, io.get_executor());
  FastRandom random(3);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pickHost(hosts, random, {})->name, "10.0.0.2:80");
  ejectNow(hosts, 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pickHost(hosts, random, {})->name, "10.0.0.1:80");
}

TEST(HostSelection, DistributeWeighsLocalities) {
  auto shared = std::make_shared<SharedUpstream>();
  shared->setProxy("r1/z1", {});
  asio::io_context io;
  ConnectionPool pool{io.get_executor(), PoolOptions{.shared = shared}};
  auto c = std::make_shared<tr::Cluster>();
  c->name = "outbound|80||svc";
  c->outlier = outlier(1);
  c->locality_lb = tr::LocalityLbPolicy{};
  c->locality_lb->distribute = {{"r1/*", {{"r1/*", 90}, {"r2/*", 10}}}};
  c->endpoints = {tr::Endpoint{"10.0.0.1", 80}, tr::Endpoint{"10.0.0.2", 80},
                  tr::Endpoint{"10.0.0.3", 80}};
  c->endpoints[0].locality = "r1/z1";
  c->endpoints[1].locality = "r2/z1";
  c->endpoints[2].locality = "r3/z1";  // matches no `to`: no traffic
  ClusterHosts hosts(c, pool, io.get_executor());
  FastRandom random(5);
  std::map<std::string, int> seen;
  for (int i = 0; i < 1000; ++i) ++seen[pickHost(hosts, random, {})->name];
  EXPECT_GT(seen["10.0.0.1:80"], 820);
  EXPECT_GT(seen["10.0.0.2:80"], 50);
  EXPECT_EQ(seen.count("10.0.0.3:80"), 0u);
}

TEST(HashKeys, HeaderCookieQueryAndSourceIp) {
  std::vector<http::HeaderView> headers{{"x-user", "alice"},
                                        {"cookie", "a=1; session=\"abc\"; b=2"}};
  http::RequestView view;
  view.path = "/p?x=1&user=bob&y";
  view.headers = headers;
  tr::HashPolicy header;
  header.name = "x-user";
  EXPECT_EQ(requestHash(header, view, "1.2.3.4", "c").hash, hashKey("alice"));
  tr::HashPolicy cookie;
  cookie.key = tr::HashPolicy::Key::kCookie;
  cookie.name = "session";
  RequestHash h = requestHash(cookie, view, "1.2.3.4", "c");
  EXPECT_EQ(h.hash, hashKey("abc"));
  EXPECT_EQ(h.set_cookie, "");
  tr::HashPolicy query;
  query.key = tr::HashPolicy::Key::kQueryParameter;
  query.name = "user";
  EXPECT_EQ(requestHash(query, view, "", "c").hash, hashKey("bob"));
  tr::HashPolicy ip;
  ip.key = tr::HashPolicy::Key::kSourceIp;
  EXPECT_EQ(requestHash(ip, view, "1.2.3.4", "c").hash, hashKey("1.2.3.4"));
  header.name = "x-missing";
  EXPECT_FALSE(requestHash(header, view, "", "c").hash.has_value());
}

TEST(HashKeys, AMissingCookieIsIssuedWhenItHasATtl) {
  http::RequestView view;
  view.path = "/";
  tr::HashPolicy cookie;
  cookie.key = tr::HashPolicy::Key::kCookie;
  cookie.name = "session";
  cookie.cookie_ttl = milliseconds(-1);
  EXPECT_FALSE(requestHash(cookie, view, "", "conn").hash.has_value());  // no ttl: none issued
  cookie.cookie_ttl = milliseconds(60'000);
  cookie.cookie_path = "/app";
  cookie.cookie_attributes = {{"SameSite", "Lax"}};
  RequestHash h = requestHash(cookie, view, "", "conn");
  ASSERT_TRUE(h.hash.has_value());
  ASSERT_TRUE(h.set_cookie.starts_with("session=\""));
  EXPECT_TRUE(h.set_cookie.ends_with("\"; Max-Age=60; Path=/app; SameSite=Lax; HttpOnly"));
  // The issued value, sent back, hashes to the same host.
  const std::string value = h.set_cookie.substr(9, 16);
  const std::string stored = "session=\"" + value + "\"";
  std::vector<http::HeaderView> headers{{"cookie", stored}};
  view.headers = headers;
  EXPECT_EQ(requestHash(cookie, view, "", "other").hash, h.hash);
}

}  // namespace
}  // namespace halyard::proxy::upstream

namespace halyard::proxy::upstream {
namespace {

// A connected UpstreamConnection to a local acceptor, counted in `state` as the request path
// counts connections under maxConnections.
std::unique_ptr<UpstreamConnection> connected(asio::io_context& io, ConnectionPool& pool,
                                              UpstreamHost& host, asio::ip::tcp::acceptor& acceptor,
                                              asio::ip::tcp::socket& server,
                                              std::shared_ptr<ClusterState> state = nullptr) {
  std::unique_ptr<UpstreamConnection> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto c = co_await pool.connect(host, milliseconds(1000), TransportSettings{});
        if (!c) co_return;
        co_await acceptor.async_accept(server, net::kAwait);
        out = std::move(*c);
      },
      asio::detached);
  io.run();
  io.restart();
  if (out && state) {
    state->connections.fetch_add(1);
    out->adoptCount(std::move(state));
  }
  return out;
}

TEST(ConnectionPoolPolicy, RequestsPerConnectionAndLifetimeEndReuse) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket server(io);
  ConnectionPool pool(io.get_executor(), PoolOptions{});
  auto host = pool.host(acceptor.local_endpoint());
  tr::ConnectionPoolPolicy policy;
  policy.max_requests_per_connection = 2;
  auto c = connected(io, pool, *host, acceptor, server);
  ASSERT_NE(c, nullptr);
  c->countRequest();
  pool.release(std::move(c), &policy);
  c = pool.takeIdle(*host, TransportSettings{}, &policy);
  ASSERT_NE(c, nullptr);
  c->countRequest();  // the second request: the connection is spent
  pool.release(std::move(c), &policy);
  EXPECT_TRUE(host->idle.empty());

  asio::ip::tcp::socket server2(io);
  tr::ConnectionPoolPolicy young;
  young.max_connection_duration = milliseconds(1);
  c = connected(io, pool, *host, acceptor, server2);
  ASSERT_NE(c, nullptr);
  pool.release(std::move(c));
  std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(pool.takeIdle(*host, TransportSettings{}, &young), nullptr);  // outlived
}

TEST(ConnectionPoolPolicy, CountedConnectionsGiveTheirSlotBackAndYieldToWaiters) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket server(io);
  ConnectionPool pool(io.get_executor(), PoolOptions{});
  auto host = pool.host(acceptor.local_endpoint());
  auto state = std::make_shared<ClusterState>();
  auto c = connected(io, pool, *host, acceptor, server, state);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(state->connections.load(), 1u);
  // A request waits for a slot on another worker (no waiter here): the connection is closed
  // rather than kept idle, and its slot is free again.
  state->pending = 1;
  pool.release(std::move(c));
  EXPECT_TRUE(host->idle.empty());
  EXPECT_EQ(state->connections.load(), 0u);
}

}  // namespace
}  // namespace halyard::proxy::upstream
