// VirtualHostIndex must answer exactly like the linear selectVirtualHost(), ties included.
#include "proxy/router/virtual_host_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace halyard::proxy::router {
namespace {

namespace tr = halyard::translate;

std::shared_ptr<tr::RouteTable> table(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts) {
  auto t = std::make_shared<tr::RouteTable>();
  for (const auto& [name, domains] : hosts) {
    tr::VirtualHost vh;
    vh.name = name;
    vh.domains = domains;
    t->virtual_hosts.push_back(std::move(vh));
  }
  return t;
}

std::string nameOf(const tr::VirtualHost* vh) { return vh ? vh->name : "<none>"; }

TEST(VirtualHostIndex, SameAnswersAsLinearScan) {
  auto t = table({
      {"catchall", {"*"}},
      {"wild", {"*.foo.com"}},
      {"wild-deeper", {"*.bar.foo.com"}},
      {"exact", {"api.foo.com"}},
      {"ported", {"svc.local:8080", "*.svc.local:8080"}},
      {"plain", {"pirata.example.com", "pirata.example.com:80"}},
      {"v6", {"[::1]"}},
      {"prefixwild", {"www.*"}},
      {"dup-exact", {"api.foo.com"}},
      {"dup-wild", {"*.foo.com"}},
  });
  VirtualHostIndex idx(t);
  const char* authorities[] = {
      "api.foo.com",   "API.Foo.COM",      "api.foo.com:80", "x.foo.com",      "a.b.foo.com",
      "z.bar.foo.com", "bar.foo.com",      "foo.com",        "svc.local:8080", "svc.local:9090",
      "a.svc.local:8080", "a.svc.local", "pirata.example.com:80", "PIRATA.example.com", "[::1]:80",
      "[::1]",         "[::2]:80",         "www.example.org", "www.foo.com",    "",
      "other.org",     "a.com:",           "a:b:c",           "*",              ".foo.com",
  };
  for (const char* a : authorities) {
    EXPECT_EQ(nameOf(idx.find(a)), nameOf(selectVirtualHost(*t, a))) << a;
  }
  EXPECT_EQ(nameOf(idx.find("api.foo.com")), "exact");
  EXPECT_EQ(nameOf(idx.find("q.foo.com")), "wild");
}

TEST(VirtualHostIndex, NoCatchAll) {
  auto t = table({{"a", {"a.com"}}});
  VirtualHostIndex idx(t);
  EXPECT_EQ(idx.find("b.com"), nullptr);
  EXPECT_EQ(nameOf(idx.find("A.com:1")), "a");
}

// Random tables and hosts drawn from a small alphabet so that collisions, ties, ports and
// wildcards of every length happen often.
TEST(VirtualHostIndex, RandomizedEquivalence) {
  std::mt19937 rng(12345);
  auto pick = [&](std::initializer_list<const char*> xs) {
    return std::string(*(xs.begin() + rng() % xs.size()));
  };
  auto label = [&] { return pick({"a", "b", "ab", "A", "x-y"}); };
  auto hostname = [&] {
    std::string h = label();
    int n = rng() % 3;
    for (int i = 0; i < n; ++i) h += "." + label();
    return h;
  };
  auto port = [&] { return pick({"", "", ":80", ":8080", ":"}); };
  for (int round = 0; round < 200; ++round) {
    auto t = std::make_shared<tr::RouteTable>();
    int hosts = 1 + rng() % 8;
    for (int i = 0; i < hosts; ++i) {
      tr::VirtualHost vh;
      vh.name = "vh" + std::to_string(i);
      int domains = 1 + rng() % 3;
      for (int d = 0; d < domains; ++d) {
        switch (rng() % 5) {
          case 0: vh.domains.push_back("*"); break;
          case 1: vh.domains.push_back("*." + hostname() + port()); break;
          case 2: vh.domains.push_back(hostname() + ".*"); break;
          default: vh.domains.push_back(hostname() + port()); break;
        }
      }
      t->virtual_hosts.push_back(std::move(vh));
    }
    VirtualHostIndex idx(t);
    for (int q = 0; q < 50; ++q) {
      std::string a = hostname() + port();
      ASSERT_EQ(nameOf(idx.find(a)), nameOf(selectVirtualHost(*t, a))) << "authority " << a;
    }
  }
}

TEST(VirtualHostIndex, SelectUsesRoutes) {
  auto t = std::make_shared<tr::RouteTable>();
  tr::VirtualHost vh;
  vh.name = "vh";
  vh.domains = {"*"};
  tr::Route r;
  r.name = "r";
  tr::StringMatcher m;
  m.kind = tr::StringMatcher::Kind::kPrefix;
  m.value = "/x";
  r.match.uri = m;
  vh.routes.push_back(r);
  t->virtual_hosts.push_back(vh);
  VirtualHostIndex idx(t);
  http::RequestView req;
  req.authority = "any";
  req.path = "/x/y";
  auto sel = idx.select(req);
  ASSERT_NE(sel.route, nullptr);
  EXPECT_EQ(sel.route->name, "r");
  req.path = "/y";
  EXPECT_EQ(idx.select(req).route, nullptr);
}

}  // namespace
}  // namespace halyard::proxy::router
