// Route selection on a gateway-sized table: 1,000 virtual hosts x 20 routes.
//   ninja -C build router_bench && ./build/bin/router_bench
// Compares the linear selectRoute() with the hash-based VirtualHostIndex, for an exact host at
// the end of the table, a wildcard host, a host that falls to "*", and a request that matches
// the last route of its host (the worst case of first-match-wins).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/router/router.h"
#include "proxy/router/virtual_host_index.h"

namespace {

namespace tr = halyard::translate;
namespace rt = halyard::proxy::router;
using Kind = tr::StringMatcher::Kind;

constexpr int kHosts = 1000;
constexpr int kRoutes = 20;

tr::StringMatcher sm(Kind k, const std::string& v) {
  tr::StringMatcher m;
  m.kind = k;
  if (k == Kind::kRegex) {
    m.regex = std::make_shared<const re2::RE2>(v);
  } else {
    m.value = v;
  }
  return m;
}

std::shared_ptr<tr::RouteTable> buildTable() {
  auto t = std::make_shared<tr::RouteTable>();
  for (int h = 0; h < kHosts; ++h) {
    tr::VirtualHost vh;
    const std::string host = "svc" + std::to_string(h) + ".example.com";
    vh.name = host + ":80";
    if (h % 10 == 9) {
      vh.domains = {"*.tenant" + std::to_string(h) + ".example.org"};
    } else {
      vh.domains = {host, host + ":80"};
    }
    for (int r = 0; r < kRoutes; ++r) {
      tr::Route route;
      route.name = vh.name + "/" + std::to_string(r);
      switch (r % 4) {
        case 0: route.match.uri = sm(Kind::kPrefix, "/api/v" + std::to_string(r)); break;
        case 1: route.match.uri = sm(Kind::kExact, "/exact/" + std::to_string(r)); break;
        case 2:
          route.match.uri = sm(Kind::kPrefix, "/h");
          route.match.headers.push_back({"x-route", sm(Kind::kExact, std::to_string(r)), false});
          break;
        case 3: route.match.uri = sm(Kind::kRegex, "/items/[0-9]+/r" + std::to_string(r)); break;
      }
      tr::ForwardAction fa;
      fa.clusters.push_back({});
      route.action = std::move(fa);
      vh.routes.push_back(std::move(route));
    }
    t->virtual_hosts.push_back(std::move(vh));
  }
  tr::VirtualHost all;
  all.name = "catch-all";
  all.domains = {"*"};
  t->virtual_hosts.push_back(std::move(all));
  return t;
}

const std::shared_ptr<tr::RouteTable>& table() {
  static auto t = buildTable();
  return t;
}
const rt::VirtualHostIndex& index() {
  static rt::VirtualHostIndex idx(table());
  return idx;
}

struct Request {
  std::vector<halyard::proxy::http::HeaderView> headers{{"user-agent", "bench"},
                                                         {"accept", "*/*"}};
  halyard::proxy::http::RequestView view;
  Request(std::string_view authority, std::string_view path) {
    view.method = "GET";
    view.scheme = "http";
    view.authority = authority;
    view.path = path;
    view.headers = headers;
  }
};

// Last route of host 998 (regex, never a prefix hit before it): worst case inside a host.
constexpr std::string_view kExactHost = "svc998.example.com:80";
constexpr std::string_view kLastRoutePath = "/items/123/r19?x=1";
constexpr std::string_view kFirstRoutePath = "/api/v0/list";

void BM_Linear_ExactHost_FirstRoute(benchmark::State& s) {
  Request r(kExactHost, kFirstRoutePath);
  for (auto _ : s) benchmark::DoNotOptimize(rt::selectRoute(*table(), r.view));
}
void BM_Linear_ExactHost_LastRoute(benchmark::State& s) {
  Request r(kExactHost, kLastRoutePath);
  for (auto _ : s) benchmark::DoNotOptimize(rt::selectRoute(*table(), r.view));
}
void BM_Index_ExactHost_FirstRoute(benchmark::State& s) {
  Request r(kExactHost, kFirstRoutePath);
  for (auto _ : s) benchmark::DoNotOptimize(index().select(r.view));
}
void BM_Index_ExactHost_LastRoute(benchmark::State& s) {
  Request r(kExactHost, kLastRoutePath);
  for (auto _ : s) benchmark::DoNotOptimize(index().select(r.view));
}
void BM_Index_WildcardHost(benchmark::State& s) {
  Request r("a.b.tenant989.example.org", kFirstRoutePath);
  for (auto _ : s) benchmark::DoNotOptimize(index().select(r.view));
}
void BM_Linear_WildcardHost(benchmark::State& s) {
  Request r("a.b.tenant989.example.org", kFirstRoutePath);
  for (auto _ : s) benchmark::DoNotOptimize(rt::selectRoute(*table(), r.view));
}
void BM_Index_CatchAllHost(benchmark::State& s) {
  Request r("unknown.example.net", "/");
  for (auto _ : s) benchmark::DoNotOptimize(index().select(r.view));
}
void BM_Index_Build(benchmark::State& s) {
  for (auto _ : s) {
    rt::VirtualHostIndex idx(table());
    benchmark::DoNotOptimize(idx);
  }
}

BENCHMARK(BM_Linear_ExactHost_FirstRoute);
BENCHMARK(BM_Linear_ExactHost_LastRoute);
BENCHMARK(BM_Linear_WildcardHost);
BENCHMARK(BM_Index_ExactHost_FirstRoute);
BENCHMARK(BM_Index_ExactHost_LastRoute);
BENCHMARK(BM_Index_WildcardHost);
BENCHMARK(BM_Index_CatchAllHost);
BENCHMARK(BM_Index_Build);

}  // namespace

BENCHMARK_MAIN();
