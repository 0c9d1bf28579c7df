// Router semantics, table-driven where the rule is a table: virtual host selection, match
// conditions, weighted picks, rewrites, redirects, CORS and faults (Envoy as Istio drives it).
#include "proxy/router/router.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace halyard::proxy::router {
namespace {

namespace tr = halyard::translate;
using Kind = tr::StringMatcher::Kind;

tr::StringMatcher exact(std::string v, bool ic = false) {
  tr::StringMatcher m;
  m.kind = Kind::kExact;
  m.value = std::move(v);
  m.ignore_case = ic;
  return m;
}
tr::StringMatcher prefix(std::string v, bool ic = false) {
  tr::StringMatcher m;
  m.kind = Kind::kPrefix;
  m.value = std::move(v);
  m.ignore_case = ic;
  return m;
}
tr::StringMatcher regex(const std::string& v) {
  tr::StringMatcher m;
  m.kind = Kind::kRegex;
  m.regex = std::make_shared<const re2::RE2>(v);
  return m;
}
tr::StringMatcher present() {
  tr::StringMatcher m;
  m.kind = Kind::kPresent;
  return m;
}

// A request built from plain strings; the view points into this object, so keep it alive.
struct Req {
  std::string method = "GET";
  std::string path = "/";
  std::string authority = "example.com";
  std::string scheme = "http";
  uint16_t listener_port = 80;
  std::vector<std::pair<std::string, std::string>> hdrs;
  std::vector<http::HeaderView> views;

  http::RequestView view() {
    views.clear();
    for (const auto& [n, v] : hdrs) views.push_back({n, v});
    http::RequestView r;
    r.method = method;
    r.path = path;
    r.authority = authority;
    r.scheme = scheme;
    r.listener_port = listener_port;
    r.headers = views;
    return r;
  }
};

Req get(std::string path, std::string authority = "example.com") {
  Req r;
  r.path = std::move(path);
  r.authority = std::move(authority);
  return r;
}

// ---- virtual hosts ---------------------------------------------------------------------------

tr::RouteTable tableOf(const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts) {
  tr::RouteTable t;
  for (const auto& [name, domains] : hosts) {
    tr::VirtualHost vh;
    vh.name = name;
    vh.domains = domains;
    t.virtual_hosts.push_back(std::move(vh));
  }
  return t;
}

std::string vhostFor(const tr::RouteTable& t, const std::string& authority) {
  const auto* vh = selectVirtualHost(t, authority);
  return vh ? vh->name : "<none>";
}

TEST(VirtualHost, SelectionTable) {
  const auto t = tableOf({
      {"catchall", {"*"}},
      {"wild", {"*.foo.com"}},
      {"wild-deeper", {"*.bar.foo.com"}},
      {"exact", {"api.foo.com"}},
      {"ported", {"svc.local:8080"}},
      {"plain", {"pirata.example.com", "pirata.example.com:80"}},
      {"v6", {"[::1]"}},
      {"prefixwild", {"www.*"}},
  });
  struct Case {
    const char* authority;
    const char* want;
  } cases[] = {
      {"api.foo.com", "exact"},            // exact beats wildcard
      {"API.Foo.COM", "exact"},            // case-insensitive
      {"api.foo.com:80", "exact"},         // port ignored
      {"x.foo.com", "wild"},               //
      {"a.b.foo.com", "wild"},             // wildcard spans several labels
      {"z.bar.foo.com", "wild-deeper"},    // longest suffix wins
      {"bar.foo.com", "wild"},             // "*.bar.foo.com" needs something before ".bar"
      {"foo.com", "catchall"},             // "*.foo.com" does not match foo.com
      {"svc.local:8080", "ported"},        // domain with port matches the authority as sent
      {"svc.local:9090", "catchall"},      // ... but not another port
      {"pirata.example.com:80", "plain"},  //
      {"PIRATA.example.com", "plain"},     //
      {"[::1]:80", "v6"},                  // IPv6 literal with port
      {"[::1]", "v6"},                     //
      {"[::2]:80", "catchall"},            //
      {"www.example.org", "prefixwild"},   // Envoy prefix wildcard after suffix wildcards
      {"www.foo.com", "wild"},             // suffix wildcard beats prefix wildcard
      {"", "catchall"},                    //
      {"other.org", "catchall"},           //
  };
  for (const auto& c : cases) EXPECT_EQ(vhostFor(t, c.authority), c.want) << c.authority;
}

TEST(VirtualHost, NoCatchAllMeansNoHost) {
  const auto t = tableOf({{"a", {"a.com"}}, {"w", {"*.b.com"}}});
  EXPECT_EQ(vhostFor(t, "c.com"), "<none>");
  EXPECT_EQ(vhostFor(t, "b.com"), "<none>");
  EXPECT_EQ(vhostFor(t, "x.b.com:443"), "w");
}

TEST(VirtualHost, ExactInLaterHostBeatsEarlierWildcard) {
  const auto t = tableOf({{"w", {"*.a.com"}}, {"all", {"*"}}, {"e", {"x.a.com"}}});
  EXPECT_EQ(vhostFor(t, "x.a.com"), "e");
  EXPECT_EQ(vhostFor(t, "y.a.com"), "w");
}

TEST(VirtualHost, HostWithoutPort) {
  EXPECT_EQ(hostWithoutPort("a.com:80"), "a.com");
  EXPECT_EQ(hostWithoutPort("a.com"), "a.com");
  EXPECT_EQ(hostWithoutPort("[::1]:8080"), "[::1]");
  EXPECT_EQ(hostWithoutPort("[::1]"), "[::1]");
  EXPECT_EQ(hostWithoutPort("a.com:"), "a.com:");  // no numeric port: kept (Envoy)
  EXPECT_EQ(hostWithoutPort("a.com:http"), "a.com:http");
  EXPECT_EQ(hostWithoutPort("::1"), "::1");  // bare IPv6 has no port
}

TEST(VirtualHost, AuthorityPort) {
  EXPECT_EQ(authorityPort("items-api-svc:8080", 80), 8080);
  EXPECT_EQ(authorityPort("items-api-svc", 80), 80);
  EXPECT_EQ(authorityPort("[::1]:9000", 80), 9000);
  EXPECT_EQ(authorityPort("[::1]", 80), 80);
  EXPECT_EQ(authorityPort("a.com:", 80), 80);
  EXPECT_EQ(authorityPort("a.com:70000", 80), 80);  // not a port
  EXPECT_EQ(authorityPort("a.com:0", 80), 80);
  EXPECT_EQ(authorityPort("", 80), 80);
}

// ---- match conditions ----------------------------------------------------------------------

struct MatchCase {
  const char* name;
  tr::RouteMatch match;
  Req req;
  bool want;
};

tr::RouteMatch uriMatch(tr::StringMatcher m) {
  tr::RouteMatch rm;
  rm.uri = std::move(m);
  return rm;
}

TEST(Match, UriTable) {
  std::vector<MatchCase> cases = {
      {"no uri matches anything", {}, get("/anything?x=1"), true},
      {"exact", uriMatch(exact("/a/b")), get("/a/b"), true},
      {"exact ignores query", uriMatch(exact("/a/b")), get("/a/b?x=1"), true},
      {"exact is exact", uriMatch(exact("/a/b")), get("/a/b/"), false},
      {"exact case-sensitive", uriMatch(exact("/a/b")), get("/A/b"), false},
      {"exact ignoreUriCase", uriMatch(exact("/a/b", true)), get("/A/B?Q=1"), true},
      {"prefix", uriMatch(prefix("/api")), get("/api/v1"), true},
      {"prefix ignores query", uriMatch(prefix("/a?b")), get("/a?b=1"), false},
      {"prefix not segment-aware", uriMatch(prefix("/api")), get("/apiary"), true},
      {"prefix miss", uriMatch(prefix("/api")), get("/ap"), false},
      {"prefix case-sensitive", uriMatch(prefix("/api")), get("/API/v1"), false},
      {"prefix ignoreUriCase", uriMatch(prefix("/api", true)), get("/API/v1"), true},
      {"empty prefix", uriMatch(prefix("")), get("/x"), true},
      {"regex full match", uriMatch(regex("/products/\\d+")), get("/products/123"), true},
      {"regex is not partial", uriMatch(regex("/products/\\d+")), get("/x/products/123"), false},
      {"regex anchored at end", uriMatch(regex("/products/\\d+")), get("/products/123/x"), false},
      {"regex ignores query", uriMatch(regex("/products/\\d+")), get("/products/1?a=b"), true},
      {"regex not affected by ignore case", uriMatch(regex("/abc")), get("/ABC"), false},
      {"regex (?i)", uriMatch(regex("(?i)/abc")), get("/ABC"), true},
  };
  for (auto& c : cases) EXPECT_EQ(matches(c.match, c.req.view()), c.want) << c.name;
}

TEST(Match, SchemeMethodAuthority) {
  tr::RouteMatch m;
  m.method = exact("POST");
  m.scheme = exact("https");
  m.authority = prefix("api.");
  Req r = get("/", "api.example.com:8443");
  r.method = "POST";
  r.scheme = "https";
  EXPECT_TRUE(matches(m, r.view()));
  r.method = "post";  // method is case-sensitive
  EXPECT_FALSE(matches(m, r.view()));
  r.method = "POST";
  r.scheme = "http";
  EXPECT_FALSE(matches(m, r.view()));
  r.scheme = "https";
  r.authority = "API.example.com";  // authority compared as sent, case-sensitive
  EXPECT_FALSE(matches(m, r.view()));

  tr::RouteMatch a;
  a.authority = exact("example.com:8080");  // the authority includes the port as sent
  Req r2 = get("/", "example.com:8080");
  EXPECT_TRUE(matches(a, r2.view()));
  r2.authority = "example.com";
  EXPECT_FALSE(matches(a, r2.view()));
}

tr::RouteMatch headerMatch(std::string name, tr::StringMatcher m, bool invert = false) {
  tr::RouteMatch rm;
  rm.headers.push_back({std::move(name), std::move(m), invert});
  return rm;
}

Req withHeaders(std::vector<std::pair<std::string, std::string>> h) {
  Req r = get("/");
  r.hdrs = std::move(h);
  return r;
}

TEST(Match, HeadersTable) {
  std::vector<MatchCase> cases = {
      {"exact hit", headerMatch("end-user", exact("jason")), withHeaders({{"end-user", "jason"}}),
       true},
      {"exact miss", headerMatch("end-user", exact("jason")), withHeaders({{"end-user", "Jason"}}),
       false},
      {"exact absent", headerMatch("end-user", exact("jason")), withHeaders({}), false},
      {"prefix", headerMatch("x-v", prefix("v2")), withHeaders({{"x-v", "v2-beta"}}), true},
      {"regex full", headerMatch("x-v", regex("v\\d")), withHeaders({{"x-v", "v2"}}), true},
      {"regex partial fails", headerMatch("x-v", regex("v\\d")), withHeaders({{"x-v", "v22"}}),
       false},
      {"present", headerMatch("x-p", present()), withHeaders({{"x-p", ""}}), true},
      {"present absent", headerMatch("x-p", present()), withHeaders({{"x-q", "1"}}), false},
      {"repeated header joined with ','", headerMatch("x-m", exact("a,b")),
       withHeaders({{"x-m", "a"}, {"x-m", "b"}}), true},
      {"repeated header, empty first value", headerMatch("x-m", exact(",b")),
       withHeaders({{"x-m", ""}, {"x-m", "b"}}), true},
      {"long repeated header", headerMatch("x-m", prefix(std::string(900, 'a') + ",")),
       withHeaders({{"x-m", std::string(900, 'a')}, {"x-m", std::string(900, 'b')}}), true},
      // withoutHeaders with a value matcher: a missing header is matched as "" (Istio sets
      // treat_missing_header_as_empty), then inverted.
      {"without value: absent", headerMatch("x-u", exact("bad"), true), withHeaders({}), true},
      {"without regex .*: absent", headerMatch("x-u", regex(".*"), true), withHeaders({}), false},
      {"without regex .*: present", headerMatch("x-u", regex(".*"), true),
       withHeaders({{"x-u", "v"}}), false},
      {"without regex .+: absent", headerMatch("x-u", regex(".+"), true), withHeaders({}), true},
      {"without exact empty: absent", headerMatch("x-u", exact(""), true), withHeaders({}), false},
      {"without exact empty: empty value", headerMatch("x-u", exact(""), true),
       withHeaders({{"x-u", ""}}), false},
      {"without prefix empty-able: absent", headerMatch("x-u", prefix("a"), true), withHeaders({}),
       true},
      {"without pseudo regex .*", headerMatch(":scheme", regex(".*"), true), withHeaders({}),
       false},
      {"without value: other value", headerMatch("x-u", exact("bad"), true),
       withHeaders({{"x-u", "good"}}), true},
      {"without value: same value", headerMatch("x-u", exact("bad"), true),
       withHeaders({{"x-u", "bad"}}), false},
      // withoutHeaders with presence: the header must be absent.
      {"without present: absent", headerMatch("x-u", present(), true), withHeaders({}), true},
      {"without present: present", headerMatch("x-u", present(), true), withHeaders({{"x-u", "x"}}),
       false},
      {"without regex", headerMatch("x-u", regex("a.*"), true), withHeaders({{"x-u", "abc"}}),
       false},
      {"pseudo :method", headerMatch(":method", exact("GET")), withHeaders({}), true},
      {"pseudo :path", headerMatch(":path", prefix("/x")), withHeaders({}), false},
      {"pseudo :authority", headerMatch(":authority", exact("example.com")), withHeaders({}), true},
      // Plain `headers` are unchanged: a missing header never matches a value matcher, even one
      // that accepts "".
      {"regex .* absent", headerMatch("x-u", regex(".*")), withHeaders({}), false},
      {"exact empty absent", headerMatch("x-u", exact("")), withHeaders({}), false},
  };
  for (auto& c : cases) EXPECT_EQ(matches(c.match, c.req.view()), c.want) << c.name;
}

TEST(Match, ConditionsAreAnded) {
  tr::RouteMatch m = uriMatch(prefix("/api"));
  m.headers.push_back({"x-a", exact("1"), false});
  m.headers.push_back({"x-b", present(), true});
  m.query_params.push_back({"debug", exact("")});
  Req r = get("/api/x?debug");
  r.hdrs = {{"x-a", "1"}};
  EXPECT_TRUE(matches(m, r.view()));
  r.hdrs.push_back({"x-b", "1"});
  EXPECT_FALSE(matches(m, r.view()));
  r.hdrs = {{"x-a", "1"}};
  r.path = "/api/x";
  EXPECT_FALSE(matches(m, r.view()));
  r.path = "/other?debug";
  EXPECT_FALSE(matches(m, r.view()));
}

tr::RouteMatch queryMatch(std::string name, tr::StringMatcher m) {
  tr::RouteMatch rm;
  rm.query_params.push_back({std::move(name), std::move(m)});
  return rm;
}

TEST(Match, QueryParamsTable) {
  std::vector<MatchCase> cases = {
      {"exact", queryMatch("v", exact("1")), get("/?v=1"), true},
      {"exact among others", queryMatch("v", exact("1")), get("/p?a=2&v=1&b"), true},
      {"exact miss", queryMatch("v", exact("1")), get("/?v=12"), false},
      {"absent", queryMatch("v", exact("1")), get("/?w=1"), false},
      {"no query", queryMatch("v", present()), get("/p"), false},
      {"present with value", queryMatch("v", present()), get("/?v=1"), true},
      {"present without '='", queryMatch("v", present()), get("/?v"), true},
      {"present empty value", queryMatch("v", present()), get("/?v="), true},
      {"exact empty matches ?key", queryMatch("v", exact("")), get("/?v"), true},
      {"exact empty matches ?key=", queryMatch("v", exact("")), get("/?a=1&v="), true},
      {"exact empty not ?key=x", queryMatch("v", exact("")), get("/?v=x"), false},
      {"first occurrence wins", queryMatch("v", exact("1")), get("/?v=2&v=1"), false},
      {"key is exact, not prefix", queryMatch("v", present()), get("/?vv=1"), false},
      {"regex full match", queryMatch("id", regex("\\d+")), get("/?id=123"), true},
      {"regex not partial", queryMatch("id", regex("\\d+")), get("/?id=a123"), false},
      {"prefix", queryMatch("id", prefix("ab")), get("/?id=abc"), true},
      {"value keeps '='", queryMatch("t", exact("a=b")), get("/?t=a=b"), true},
      // Envoy's router compares the raw (still percent-encoded) text.
      {"encoded value raw", queryMatch("q", exact("a%20b")), get("/?q=a%20b"), true},
      {"encoded value not decoded", queryMatch("q", exact("a b")), get("/?q=a%20b"), false},
      {"plus not decoded", queryMatch("q", exact("a+b")), get("/?q=a+b"), true},
      {"empty segments skipped", queryMatch("v", exact("1")), get("/?&&v=1&"), true},
  };
  for (auto& c : cases) EXPECT_EQ(matches(c.match, c.req.view()), c.want) << c.name;
}

TEST(Match, QueryParamHelper) {
  EXPECT_EQ(queryParam("a=1&b=2", "b"), "2");
  EXPECT_EQ(queryParam("a=1&b", "b"), "");
  EXPECT_EQ(queryParam("a=1&b=", "b"), "");
  EXPECT_EQ(queryParam("a=1", "b"), std::nullopt);
  EXPECT_EQ(queryParam("", "b"), std::nullopt);
  EXPECT_EQ(queryParam("=x", ""), "x");
}

// ---- route selection -----------------------------------------------------------------------

tr::Route routeNamed(std::string name, tr::RouteMatch m) {
  tr::Route r;
  r.name = std::move(name);
  r.match = std::move(m);
  tr::ForwardAction fa;
  fa.clusters.push_back({});
  r.action = fa;
  return r;
}

TEST(SelectRoute, FirstMatchWins) {
  tr::RouteTable t;
  tr::VirtualHost vh;
  vh.name = "vh";
  vh.domains = {"example.com"};
  vh.routes.push_back(routeNamed("exact", uriMatch(exact("/a"))));
  vh.routes.push_back(routeNamed("prefix-a", uriMatch(prefix("/a"))));
  vh.routes.push_back(routeNamed("prefix-a-again", uriMatch(prefix("/a/b"))));
  t.virtual_hosts.push_back(vh);

  auto sel = [&](std::string path, std::string host = "example.com") {
    Req r = get(std::move(path), std::move(host));
    auto s = selectRoute(t, r.view());
    if (!s.virtual_host) return std::string("<no vhost>");
    return s.route ? s.route->name : std::string("<no route>");
  };
  EXPECT_EQ(sel("/a"), "exact");
  EXPECT_EQ(sel("/a?x"), "exact");
  EXPECT_EQ(sel("/a/b"), "prefix-a");
  EXPECT_EQ(sel("/b"), "<no route>");
  EXPECT_EQ(sel("/a", "other.com"), "<no vhost>");
  EXPECT_EQ(sel("/a", "EXAMPLE.com:80"), "exact");
}

// ---- weighted clusters ---------------------------------------------------------------------

tr::ForwardAction weighted(std::vector<std::pair<std::string, uint32_t>> ws) {
  tr::ForwardAction fa;
  for (auto& [name, w] : ws) {
    tr::WeightedCluster c;
    c.cluster = name;
    c.weight = w;
    fa.total_weight += w;
    fa.clusters.push_back(std::move(c));
  }
  return fa;
}

TEST(PickCluster, SingleDestinationAlwaysChosen) {
  auto fa = weighted({{"only", 0}});
  for (uint64_t r : {0ull, 1ull, 99ull, ~0ull}) EXPECT_EQ(pickCluster(fa, r).cluster, "only");
}

TEST(PickCluster, BoundariesWithFixedRandoms) {
  auto fa = weighted({{"v1", 25}, {"v2", 75}});
  EXPECT_EQ(pickCluster(fa, 0).cluster, "v1");
  EXPECT_EQ(pickCluster(fa, 24).cluster, "v1");
  EXPECT_EQ(pickCluster(fa, 25).cluster, "v2");
  EXPECT_EQ(pickCluster(fa, 99).cluster, "v2");
  EXPECT_EQ(pickCluster(fa, 100).cluster, "v1");  // modulo total
}

TEST(PickCluster, DistributionFollowsRelativeWeights) {
  // Weights need not sum to 100 (550 + 500 is valid Istio).
  auto fa = weighted({{"a", 550}, {"b", 500}, {"c", 50}});
  std::map<std::string, int> count;
  for (uint64_t r = 0; r < 1100 * 10; ++r) ++count[pickCluster(fa, r).cluster];
  EXPECT_EQ(count["a"], 5500);
  EXPECT_EQ(count["b"], 5000);
  EXPECT_EQ(count["c"], 500);
}

TEST(PickCluster, MissingTotalIsComputed) {
  auto fa = weighted({{"a", 1}, {"b", 3}});
  fa.total_weight = 0;
  EXPECT_EQ(pickCluster(fa, 0).cluster, "a");
  EXPECT_EQ(pickCluster(fa, 1).cluster, "b");
}

// ---- rewrites ------------------------------------------------------------------------------

std::optional<std::string> rewrite(std::optional<tr::StringMatcher> uri, std::string replacement,
                                   std::string path) {
  tr::Route route;
  route.match.uri = std::move(uri);
  tr::ForwardAction fa;
  fa.uri_rewrite = tr::UriRewrite{};
  fa.uri_rewrite->prefix_replacement = std::move(replacement);
  Req r = get(std::move(path));
  return rewritePath(route, fa, r.view());
}

TEST(RewritePath, PrefixTable) {
  struct Case {
    const char* name;
    std::optional<tr::StringMatcher> uri;
    const char* replacement;
    const char* path;
    const char* want;
  } cases[] = {
      // Envoy's documented trailing-slash caveat: prefix "/prefix" rewritten to "/" turns
      // "/prefix/etc" into "//etc"; prefix "/prefix/" to "/" gives "/etc".
      {"doc: /prefix -> /", prefix("/prefix"), "/", "/prefix/etc", "//etc"},
      {"doc: /prefix/ -> /", prefix("/prefix/"), "/", "/prefix/etc", "/etc"},
      {"doc: /prefix -> / on /prefix", prefix("/prefix"), "/", "/prefix", "/"},
      {"keeps query", prefix("/v1"), "/v2", "/v1/items?id=3", "/v2/items?id=3"},
      {"ignore case replaces sent text", prefix("/api", true), "/svc", "/API/x", "/svc/x"},
      {"exact replaces whole path", exact("/old"), "/new", "/old", "/new"},
      {"exact keeps query", exact("/old"), "/new", "/old?a=1", "/new?a=1"},
      {"no match replaces leading /", std::nullopt, "/base/", "/x/y", "/base/x/y"},
      {"no match, root", std::nullopt, "/base", "/", "/base"},
      {"regex match replaces whole path", regex("/r/.*"), "/fixed", "/r/a/b?q=1", "/fixed?q=1"},
      {"empty replacement", prefix("/strip"), "", "/strip/me", "/me"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(rewrite(c.uri, c.replacement, c.path), std::optional<std::string>(c.want)) << c.name;
  }
}

std::optional<std::string> regexRewrite(const std::string& re, std::string sub, std::string path) {
  tr::Route route;
  tr::ForwardAction fa;
  fa.uri_rewrite = tr::UriRewrite{};
  fa.uri_rewrite->regex = std::make_shared<const re2::RE2>(re);
  fa.uri_rewrite->regex_substitution = std::move(sub);
  Req r = get(std::move(path));
  return rewritePath(route, fa, r.view());
}

TEST(RewritePath, RegexTable) {
  // Envoy regex_rewrite = RE2::GlobalReplace over the path without the query; query kept.
  EXPECT_EQ(regexRewrite("^/service/([^/]+)(/.*)$", "\\2/instance/\\1", "/service/foo/v1/api"),
            "/v1/api/instance/foo");
  EXPECT_EQ(regexRewrite("one", "two", "/xxx/one/yyy/one/zzz"), "/xxx/two/yyy/two/zzz");
  EXPECT_EQ(regexRewrite("^/b", "/a", "/b/c?x=/b"), "/a/c?x=/b");
  EXPECT_EQ(regexRewrite("nomatch", "z", "/p?q"), "/p?q");
  EXPECT_EQ(regexRewrite("(?i)/API", "/api", "/Api/x"), "/api/x");
}

TEST(RewritePath, NoRewrite) {
  tr::Route route;
  tr::ForwardAction fa;
  Req r = get("/x");
  EXPECT_EQ(rewritePath(route, fa, r.view()), std::nullopt);
}

// ---- redirects -----------------------------------------------------------------------------

struct RedirectCase {
  const char* name;
  tr::RedirectAction redirect;
  std::optional<tr::StringMatcher> uri;
  const char* scheme;
  const char* authority;
  const char* path;
  uint16_t listener_port;
  const char* want;
};

tr::RedirectAction redir(std::function<void(tr::RedirectAction&)> fn) {
  tr::RedirectAction r;
  fn(r);
  return r;
}

TEST(Redirect, LocationTable) {
  using DP = tr::RedirectAction::DerivePort;
  std::vector<RedirectCase> cases = {
      {"uri replaces path, keeps query", redir([](auto& r) { r.uri = "/new"; }), prefix("/old"),
       "http", "a.com", "/old/x?q=1", 80, "http://a.com/new?q=1"},
      {"uri with own query drops request's", redir([](auto& r) { r.uri = "/new?z=9"; }),
       std::nullopt, "http", "a.com", "/old?q=1", 80, "http://a.com/new?z=9"},
      {"uri without leading slash", redir([](auto& r) { r.uri = "new"; }), std::nullopt, "http",
       "a.com", "/old", 80, "http://a.com/new"},
      {"prefix rewrite", redir([](auto& r) { r.prefix_rewrite = "/v2"; }), prefix("/v1"), "http",
       "a.com", "/v1/items?x", 80, "http://a.com/v2/items?x"},
      {"authority", redir([](auto& r) { r.authority = "b.com"; }), std::nullopt, "http",
       "a.com:8080", "/p", 80, "http://b.com/p"},
      {"keeps host port when scheme unchanged", redir([](auto& r) { r.uri = "/n"; }), std::nullopt,
       "http", "a.com:8080", "/p", 8080, "http://a.com:8080/n"},
      {"scheme https drops :80", redir([](auto& r) { r.scheme = "https"; }), std::nullopt, "http",
       "a.com:80", "/p", 80, "https://a.com/p"},
      {"scheme https keeps :8080", redir([](auto& r) { r.scheme = "https"; }), std::nullopt, "http",
       "a.com:8080", "/p", 8080, "https://a.com:8080/p"},
      {"explicit port replaces host port", redir([](auto& r) { r.port = 9090; }), std::nullopt,
       "http", "a.com:8080", "/p", 8080, "http://a.com:9090/p"},
      // Istio drops port 80 on http before Envoy sees it, so the Host is kept as sent.
      {"explicit port 80 on http counts as none", redir([](auto& r) { r.port = 80; }), std::nullopt,
       "http", "a.com:8080", "/p", 8080, "http://a.com:8080/p"},
      {"explicit port 80 on http, host without port", redir([](auto& r) { r.port = 80; }),
       std::nullopt, "http", "a.com", "/p", 8080, "http://a.com/p"},
      {"https + port 443 omitted", redir([](auto& r) {
         r.scheme = "https";
         r.port = 443;
       }),
       std::nullopt, "http", "a.com", "/p", 80, "https://a.com/p"},
      {"https + port 8443", redir([](auto& r) {
         r.scheme = "https";
         r.port = 8443;
       }),
       std::nullopt, "http", "a.com:80", "/p", 80, "https://a.com:8443/p"},
      {"FROM_REQUEST_PORT uses listener port", redir([](auto& r) {
         r.authority = "b.com";
         r.derive_port = DP::kFromRequestPort;
       }),
       std::nullopt, "http", "a.com:31080", "/p", 8080, "http://b.com:8080/p"},
      // Istio's "redirect request port" cases: 80 is the http default, so only the Host's own
      // port (if any) appears; a non-default listener port always does.
      {"FROM_REQUEST_PORT 80, host without port",
       redir([](auto& r) { r.derive_port = DP::kFromRequestPort; }), std::nullopt, "http", "b",
       "/foo", 80, "http://b/foo"},
      {"FROM_REQUEST_PORT 80, host with :80",
       redir([](auto& r) { r.derive_port = DP::kFromRequestPort; }), std::nullopt, "http", "b:80",
       "/foo", 80, "http://b:80/foo"},
      {"FROM_REQUEST_PORT 85, host without port",
       redir([](auto& r) { r.derive_port = DP::kFromRequestPort; }), std::nullopt, "http", "b",
       "/foo", 85, "http://b:85/foo"},
      {"FROM_REQUEST_PORT 85, host with :85",
       redir([](auto& r) { r.derive_port = DP::kFromRequestPort; }), std::nullopt, "http", "b:85",
       "/foo", 85, "http://b:85/foo"},
      {"FROM_REQUEST_PORT 85, host with other port",
       redir([](auto& r) { r.derive_port = DP::kFromRequestPort; }), std::nullopt, "http",
       "b:31085", "/foo", 85, "http://b:85/foo"},
      // Istio's "redirect port and scheme": 80 is not the https default, so it stays.
      {"FROM_REQUEST_PORT 80 with scheme https", redir([](auto& r) {
         r.scheme = "https";
         r.derive_port = DP::kFromRequestPort;
       }),
       std::nullopt, "http", "b", "/foo", 80, "https://b:80/foo"},
      {"FROM_REQUEST_PORT 443 on https keeps host port",
       redir([](auto& r) { r.derive_port = DP::kFromRequestPort; }), std::nullopt, "https",
       "a.com:443", "/p", 443, "https://a.com:443/p"},
      {"FROM_REQUEST_PORT 443 to http", redir([](auto& r) {
         r.scheme = "http";
         r.derive_port = DP::kFromRequestPort;
       }),
       std::nullopt, "https", "a.com:443", "/p", 443, "http://a.com:443/p"},
      {"no port rewrite keeps explicit :80", redir([](auto& r) { r.uri = "/n"; }), std::nullopt,
       "http", "example.com:80", "/p", 80, "http://example.com:80/n"},
      {"FROM_PROTOCOL_DEFAULT + https", redir([](auto& r) {
         r.scheme = "https";
         r.derive_port = DP::kFromProtocolDefault;
       }),
       std::nullopt, "http", "a.com:80", "/p?x=1", 80, "https://a.com/p?x=1"},
      {"ipv6 host port dropped", redir([](auto& r) { r.scheme = "https"; }), std::nullopt, "http",
       "[::1]:80", "/p", 80, "https://[::1]/p"},
      {"ipv6 host with explicit port", redir([](auto& r) { r.port = 9000; }), std::nullopt, "http",
       "[::1]:80", "/p", 80, "http://[::1]:9000/p"},
      {"https to http drops :443", redir([](auto& r) { r.scheme = "http"; }), std::nullopt, "https",
       "a.com:443", "/p", 443, "http://a.com/p"},
  };
  for (auto& c : cases) {
    tr::Route route;
    route.match.uri = c.uri;
    Req r = get(c.path, c.authority);
    r.scheme = c.scheme;
    r.listener_port = c.listener_port;
    EXPECT_EQ(redirectLocation(route, c.redirect, r.view()), c.want) << c.name;
  }
}

TEST(Redirect, HttpsRedirectForRequireTls) {
  Req r = get("/a?b=1", "a.com:80");
  EXPECT_EQ(httpsRedirectLocation(r.view()), "https://a.com/a?b=1");
  r.authority = "a.com:8080";
  EXPECT_EQ(httpsRedirectLocation(r.view()), "https://a.com:8080/a?b=1");
  r.authority = "a.com";
  EXPECT_EQ(httpsRedirectLocation(r.view()), "https://a.com/a?b=1");
}

// ---- CORS ----------------------------------------------------------------------------------

tr::CorsPolicy corsPolicy() {
  tr::CorsPolicy p;
  p.allow_origins.push_back(exact("https://app.example.com"));
  p.allow_origins.push_back(regex("https://.*\\.trusted\\.io"));
  p.allow_methods = "GET,POST";
  p.allow_headers = "x-custom,content-type";
  p.expose_headers = "x-exposed";
  p.max_age_seconds = 600;
  p.allow_credentials = true;
  return p;
}

std::map<std::string, std::string> headerMap(const CorsResult& r) {
  std::map<std::string, std::string> m;
  for (const auto& [n, v] : r.response_headers) m[n] = v;
  return m;
}

Req preflight(std::string origin) {
  Req r = get("/api");
  r.method = "OPTIONS";
  r.hdrs = {{"origin", std::move(origin)}, {"access-control-request-method", "POST"}};
  return r;
}

TEST(Cors, AllowedPreflightAnsweredLocally) {
  auto p = corsPolicy();
  Req r = preflight("https://app.example.com");
  auto res = evaluateCors(p, r.view());
  EXPECT_TRUE(res.is_preflight);
  EXPECT_TRUE(res.origin_allowed);
  EXPECT_TRUE(res.answer_locally);
  auto h = headerMap(res);
  EXPECT_EQ(h["access-control-allow-origin"], "https://app.example.com");
  EXPECT_EQ(h["access-control-allow-methods"], "GET,POST");
  EXPECT_EQ(h["access-control-allow-headers"], "x-custom,content-type");
  EXPECT_EQ(h["access-control-max-age"], "600");
  EXPECT_EQ(h["access-control-allow-credentials"], "true");
  EXPECT_EQ(h["access-control-expose-headers"], "x-exposed");
}

TEST(Cors, RegexOriginAndWildcards) {
  auto p = corsPolicy();
  p.allow_methods = "*";
  p.allow_headers = "*";
  Req r = preflight("https://a.trusted.io");
  r.hdrs.push_back({"access-control-request-headers", "x-a,x-b"});
  auto res = evaluateCors(p, r.view());
  ASSERT_TRUE(res.answer_locally);
  auto h = headerMap(res);
  EXPECT_EQ(h["access-control-allow-origin"], "https://a.trusted.io");
  EXPECT_EQ(h["access-control-allow-methods"], "POST");  // "*" echoes the requested method
  EXPECT_EQ(h["access-control-allow-headers"], "x-a,x-b");
}

TEST(Cors, StarOriginMatcherAllowsAll) {
  tr::CorsPolicy p;
  p.allow_origins.push_back(exact("*"));
  Req r = get("/");
  r.hdrs = {{"origin", "https://anything.example"}};
  auto res = evaluateCors(p, r.view());
  EXPECT_TRUE(res.origin_allowed);
  EXPECT_EQ(headerMap(res)["access-control-allow-origin"], "https://anything.example");
}

TEST(Cors, UnmatchedPreflightForwardedByDefault) {
  auto p = corsPolicy();
  Req r = preflight("https://evil.example");
  auto res = evaluateCors(p, r.view());
  EXPECT_TRUE(res.is_preflight);
  EXPECT_FALSE(res.origin_allowed);
  EXPECT_FALSE(res.answer_locally);
  EXPECT_TRUE(res.response_headers.empty());
}

TEST(Cors, UnmatchedPreflightIgnoredAnswersWithoutAllowOrigin) {
  auto p = corsPolicy();
  p.forward_unmatched_preflights = false;
  Req r = preflight("https://evil.example");
  auto res = evaluateCors(p, r.view());
  EXPECT_TRUE(res.answer_locally);
  auto h = headerMap(res);
  EXPECT_EQ(h.count("access-control-allow-origin"), 0u);
  EXPECT_EQ(h.count("access-control-expose-headers"), 0u);
  EXPECT_EQ(h["access-control-allow-methods"], "GET,POST");  // Envoy still lists these
}

TEST(Cors, ActualRequestFromAllowedOrigin) {
  auto p = corsPolicy();
  Req r = get("/api");
  r.method = "POST";
  r.hdrs = {{"origin", "https://app.example.com"}};
  auto res = evaluateCors(p, r.view());
  EXPECT_FALSE(res.is_preflight);
  EXPECT_FALSE(res.answer_locally);
  auto h = headerMap(res);
  EXPECT_EQ(h["access-control-allow-origin"], "https://app.example.com");
  EXPECT_EQ(h["access-control-allow-credentials"], "true");
  EXPECT_EQ(h["access-control-expose-headers"], "x-exposed");
  EXPECT_EQ(h.count("access-control-allow-methods"), 0u);
  EXPECT_EQ(h.count("access-control-max-age"), 0u);
}

TEST(Cors, NoOriginOrDisallowedOriginAddsNothing) {
  auto p = corsPolicy();
  Req r = get("/");
  EXPECT_TRUE(evaluateCors(p, r.view()).response_headers.empty());
  r.hdrs = {{"origin", ""}};
  EXPECT_TRUE(evaluateCors(p, r.view()).response_headers.empty());
  r.hdrs = {{"origin", "https://evil.example"}};
  EXPECT_TRUE(evaluateCors(p, r.view()).response_headers.empty());
}

TEST(Cors, OptionsWithoutRequestMethodIsNotPreflight) {
  auto p = corsPolicy();
  Req r = get("/");
  r.method = "OPTIONS";
  r.hdrs = {{"origin", "https://app.example.com"}};
  auto res = evaluateCors(p, r.view());
  EXPECT_FALSE(res.is_preflight);
  EXPECT_FALSE(res.answer_locally);
  EXPECT_EQ(headerMap(res)["access-control-allow-origin"], "https://app.example.com");
}

TEST(Cors, CredentialsFalseOrUnsetAddsNothing) {
  auto p = corsPolicy();
  p.allow_credentials = false;
  Req r = get("/");
  r.hdrs = {{"origin", "https://app.example.com"}};
  EXPECT_EQ(headerMap(evaluateCors(p, r.view())).count("access-control-allow-credentials"), 0u);
  p.allow_credentials.reset();
  EXPECT_EQ(headerMap(evaluateCors(p, r.view())).count("access-control-allow-credentials"), 0u);
}

// ---- faults --------------------------------------------------------------------------------

TEST(Fault, SamplingPerMillion) {
  tr::FaultPolicy f;
  f.delay = tr::FaultPolicy::Delay{tr::Millis(500), 250'000};  // 25 %
  f.abort = tr::FaultPolicy::Abort{503, std::nullopt, 1'000'000};
  auto d = decideFault(f, 249'999, 0);
  EXPECT_EQ(d.delay, tr::Millis(500));
  EXPECT_EQ(d.abort_status, 503);
  d = decideFault(f, 250'000, 999'999);
  EXPECT_FALSE(d.delay);
  EXPECT_EQ(d.abort_status, 503);

  int delayed = 0;
  for (uint64_t r = 0; r < 1'000'000; r += 7) delayed += decideFault(f, r, 0).delay.has_value();
  EXPECT_NEAR(delayed / (1'000'000 / 7.0), 0.25, 0.001);
}

TEST(Fault, ZeroPercentNeverFires) {
  tr::FaultPolicy f;
  f.delay = tr::FaultPolicy::Delay{tr::Millis(5), 0};
  f.abort = tr::FaultPolicy::Abort{500, std::nullopt, 0};
  for (uint64_t r : {0ull, 1ull, 999'999ull, ~0ull}) {
    auto d = decideFault(f, r, r);
    EXPECT_FALSE(d.delay);
    EXPECT_FALSE(d.abort_status);
  }
}

TEST(Fault, GrpcAbort) {
  tr::FaultPolicy f;
  f.abort = tr::FaultPolicy::Abort{0, std::string("UNAVAILABLE"), 1'000'000};
  auto d = decideFault(f, 0, 12345);
  EXPECT_FALSE(d.abort_status);
  EXPECT_EQ(d.abort_grpc_status, "UNAVAILABLE");
}

}  // namespace
}  // namespace halyard::proxy::router
