// The matching path must not allocate: count global operator new calls around selectRoute.
#include <gtest/gtest.h>

#include <cstdlib>

#include "count_allocations.h"
#include "proxy/router/router.h"
#include "proxy/router/virtual_host_index.h"

namespace halyard::proxy::router {
namespace {

namespace tr = halyard::translate;

tr::StringMatcher sm(tr::StringMatcher::Kind k, std::string v, bool ic = false) {
  tr::StringMatcher m;
  m.kind = k;
  m.ignore_case = ic;
  if (k == tr::StringMatcher::Kind::kRegex) {
    m.regex = std::make_shared<const re2::RE2>(v);
  } else {
    m.value = std::move(v);
  }
  return m;
}

TEST(NoAlloc, SelectRouteAndMatch) {
  using K = tr::StringMatcher::Kind;
  auto t = std::make_shared<tr::RouteTable>();
  for (int i = 0; i < 50; ++i) {
    tr::VirtualHost vh;
    vh.name = "h" + std::to_string(i);
    vh.domains = {"host" + std::to_string(i) + ".example.com", "*.w" + std::to_string(i) + ".io"};
    for (int r = 0; r < 5; ++r) {
      tr::Route route;
      route.name = vh.name + "/r" + std::to_string(r);
      route.match.uri = sm(K::kPrefix, "/p" + std::to_string(r), true);
      route.match.headers.push_back({"x-user", sm(K::kRegex, "u[0-9]+"), false});
      route.match.headers.push_back({"x-block", sm(K::kPresent, ""), true});
      route.match.query_params.push_back({"v", sm(K::kExact, "2")});
      route.match.method = sm(K::kExact, "GET");
      vh.routes.push_back(std::move(route));
    }
    t->virtual_hosts.push_back(std::move(vh));
  }
  tr::VirtualHost all;
  all.name = "all";
  all.domains = {"*"};
  t->virtual_hosts.push_back(all);
  VirtualHostIndex idx(t);

  std::vector<http::HeaderView> hs = {{"x-user", "u42"}, {"x-other", "1"}, {"x-user", "u7"}};
  http::RequestView req;
  req.method = "GET";
  req.path = "/P3/items?a=1&v=2";
  req.authority = "HOST42.example.com:80";
  req.scheme = "http";
  req.headers = hs;

  // Warm up RE2's lazily built automata.
  (void)selectRoute(*t, req);
  (void)idx.select(req);
  hs[2].name = "x-none";

  long before = test_support::allocations();
  auto a = selectRoute(*t, req);
  auto b = idx.select(req);
  http::RequestView wild = req;
  wild.authority = "deep.a.w7.io";
  auto c = idx.find(wild.authority);
  auto d = selectVirtualHost(*t, "nowhere.org");
  hs[2].name = "x-user";  // repeated header: values joined on the stack ("u42,u7")
  auto e = selectRoute(*t, req);
  long after = test_support::allocations();

  ASSERT_NE(a.route, nullptr);
  EXPECT_EQ(a.route->name, "h42/r3");
  EXPECT_EQ(b.route, a.route);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "h7");
  EXPECT_EQ(d->name, "all");
  EXPECT_EQ(e.route, nullptr);
  EXPECT_EQ(after - before, 0) << "the matching path allocated";
}

}  // namespace
}  // namespace halyard::proxy::router
