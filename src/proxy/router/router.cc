// Request routing with Envoy's semantics as Istio configures it. Each rule below names the Envoy
// behaviour it follows; docs: shared/docs/istio-semantics.md §1.
#include "proxy/router/router.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "proxy/router/string_util.h"

namespace halyard::proxy::router {

namespace tr = halyard::translate;
using http::RequestView;

namespace {

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The path up to '?' or '#': what Envoy's path matchers see.
std::string_view pathForMatching(std::string_view path) {
  auto end = path.find_first_of("?#");
  return end == std::string_view::npos ? path : path.substr(0, end);
}

// Calls `fn(value)` with the value Envoy's header matchers see for `name`: the single value, or
// all values of a repeated header joined with ','. Joins into a stack buffer, so only an
// unusually long repeated header allocates.
template <class Fn>
bool withHeaderValue(const RequestView& req, std::string_view name, Fn&& fn, bool* found) {
  const http::HeaderView* first = nullptr;
  size_t count = 0;
  size_t total = 0;
  for (const auto& h : req.headers) {
    if (h.name != name) continue;
    if (!first) first = &h;
    ++count;
    total += h.value.size() + 1;
  }
  *found = first != nullptr;
  if (!first) return false;
  if (count == 1) return fn(first->value);
  std::array<char, 1024> stack;
  std::string heap;
  char* buf = stack.data();
  if (total > stack.size()) {
    heap.resize(total);
    buf = heap.data();
  }
  size_t n = 0;
  bool first_value = true;
  for (const auto& h : req.headers) {
    if (h.name != name) continue;
    if (!first_value) buf[n++] = ',';
    first_value = false;
    std::memcpy(buf + n, h.value.data(), h.value.size());
    n += h.value.size();
  }
  return fn(std::string_view(buf, n));
}

// Pseudo-header names address the request line fields, as in Envoy's header map.
std::optional<std::string_view> pseudoHeader(const RequestView& req, std::string_view name) {
  if (name == ":path") return req.path;
  if (name == ":method") return req.method;
  if (name == ":authority") return req.authority;
  if (name == ":scheme") return req.scheme;
  return std::nullopt;
}

// What a header matcher yields when the header is absent. Envoy: false, or true for an inverted
// presence check. Istio sets treat_missing_header_as_empty on every withoutHeaders matcher that
// is not a presence check, so there a missing header is matched as "" and then inverted:
// `regex: ".*"` matches "" and fails the route, `exact: "x"` does not and lets it match.
bool matchMissingHeader(const tr::HeaderMatcher& hm) {
  if (hm.invert && hm.match.kind != tr::StringMatcher::Kind::kPresent) {
    return !matchString(hm.match, std::string_view());
  }
  return hm.invert;
}

// A VirtualService header match on "@request.auth.claims...": the verified token's claim (the
// matcher's name is '@' and the claim path); a list claim matches when one element does, as
// Istio's metadata list matcher. No token: the claim is missing.
bool matchClaim(const tr::HeaderMatcher& hm, const RequestView& req) {
  if (!req.claim) return matchMissingHeader(hm);
  std::vector<std::string> values;
  req.claim(req.auth, std::string_view(hm.name).substr(1), values);
  if (values.empty()) return matchMissingHeader(hm);
  const bool any = std::any_of(values.begin(), values.end(),
                               [&](const std::string& v) { return matchString(hm.match, v); });
  return any != hm.invert;
}

bool matchHeader(const tr::HeaderMatcher& hm, const RequestView& req) {
  if (!hm.name.empty() && hm.name.front() == '@') return matchClaim(hm, req);
  if (!hm.name.empty() && hm.name.front() == ':') {
    auto v = pseudoHeader(req, hm.name);
    if (!v || v->empty()) return matchMissingHeader(hm);
    return matchString(hm.match, *v) != hm.invert;
  }
  bool found = false;
  bool ok = withHeaderValue(
      req, hm.name, [&](std::string_view v) { return matchString(hm.match, v); }, &found);
  if (!found) return matchMissingHeader(hm);
  return ok != hm.invert;
}

bool matchUri(const tr::StringMatcher& m, const RequestView& req) {
  // Envoy's path matchers (exact, prefix, regex) all compare the path without query/fragment.
  return matchString(m, pathForMatching(req.path));
}

// Length of the path prefix Envoy replaces on a prefix rewrite (its "matched path").
size_t matchedPathLength(const tr::Route& route, std::string_view path) {
  const auto& uri = route.match.uri;
  if (!uri) return path.starts_with('/') ? 1 : 0;  // Istio's implicit prefix "/"
  switch (uri->kind) {
    case tr::StringMatcher::Kind::kPrefix:
    case tr::StringMatcher::Kind::kExact:
      return std::min(uri->value.size(), path.size());
    case tr::StringMatcher::Kind::kRegex:
    case tr::StringMatcher::Kind::kPresent:
      return pathForMatching(path).size();  // the whole path, query kept
  }
  return 0;
}

uint16_t defaultPortFor(std::string_view scheme) {
  if (equalsIgnoreCase(scheme, "http")) return 80;
  if (equalsIgnoreCase(scheme, "https")) return 443;
  return 0;
}

// Envoy's processRequestHost: keep the Host as sent, except drop its port when a port redirect
// is configured, or when the scheme changes and the port was the old scheme's default.
std::string_view redirectHost(std::string_view host, std::string_view request_scheme,
                              std::string_view new_scheme, bool has_new_port) {
  if (host.empty()) return host;
  size_t port_start;
  if (host.front() == '[') {
    port_start = host.rfind("]:");
    if (port_start != std::string_view::npos) port_start += 1;
  } else {
    port_start = host.rfind(':');
  }
  if (port_start == std::string_view::npos) return host;
  std::string_view port = host.substr(port_start);
  bool remove = has_new_port;
  if (new_scheme != request_scheme) {
    remove |= equalsIgnoreCase(request_scheme, "https") && port == ":443";
    remove |= equalsIgnoreCase(request_scheme, "http") && port == ":80";
  }
  return remove ? host.substr(0, port_start) : host;
}

}  // namespace

std::string_view hostWithoutPort(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return authority;
    if (close + 1 < authority.size() && authority[close + 1] == ':' &&
        allDigits(authority.substr(close + 2))) {
      return authority.substr(0, close + 1);
    }
    return authority;
  }
  // Most authorities carry no port: one memchr (vectorized) says so.
  if (authority.empty() || !std::memchr(authority.data(), ':', authority.size())) return authority;
  auto colon = authority.rfind(':');
  // Envoy strips only a numeric port; "a:b:c" (an unbracketed IPv6 address) has none.
  if (authority.find(':') != colon) return authority;
  if (!allDigits(authority.substr(colon + 1))) return authority;
  return authority.substr(0, colon);
}

uint16_t authorityPort(std::string_view authority, uint16_t default_port) {
  const std::string_view host = hostWithoutPort(authority);
  if (host.size() + 1 >= authority.size()) return default_port;
  uint32_t port = 0;
  for (char c : authority.substr(host.size() + 1)) {
    port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port > 65535) return default_port;
  }
  return port == 0 ? default_port : static_cast<uint16_t>(port);
}

bool matchString(const tr::StringMatcher& m, std::string_view value) {
  switch (m.kind) {
    case tr::StringMatcher::Kind::kExact:
      return m.ignore_case ? equalsIgnoreCase(value, m.value) : value == m.value;
    case tr::StringMatcher::Kind::kPrefix:
      return m.ignore_case ? startsWithIgnoreCase(value, m.value) : value.starts_with(m.value);
    case tr::StringMatcher::Kind::kRegex:
      return m.regex && m.regex->ok() &&
             re2::RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *m.regex);
    case tr::StringMatcher::Kind::kPresent:
      return true;
  }
  return false;
}

std::optional<std::string_view> queryParam(std::string_view query, std::string_view name) {
  // Envoy's parseQueryString: split on '&', key before the first '=', value after it ("" when
  // there is no '='); the first occurrence of a key wins; nothing is percent-decoded.
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view param = query.substr(start, end - start);
    if (!param.empty()) {
      size_t eq = param.find('=');
      std::string_view key = eq == std::string_view::npos ? param : param.substr(0, eq);
      if (key == name) {
        return eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
      }
    }
    if (end == query.size()) break;
    start = end + 1;
  }
  return std::nullopt;
}

const tr::VirtualHost* selectVirtualHost(const tr::RouteTable& table, std::string_view authority) {
  const std::string_view host = hostWithoutPort(authority);
  const tr::VirtualHost* best_suffix = nullptr;
  size_t best_suffix_len = 0;
  const tr::VirtualHost* best_prefix = nullptr;
  size_t best_prefix_len = 0;
  const tr::VirtualHost* catch_all = nullptr;
  const bool has_port = host.size() != authority.size();
  for (const auto& vh : table.virtual_hosts) {
    for (const auto& d : vh.domains) {
      if (d.empty()) continue;
      const char first = d.front();
      const char last = d.back();
      if (first != '*' && last != '*') {
        // Exact domain, the common case, decided by length first: a portless domain is compared
        // with the host part, one written with a port ("a.com:80") with the authority as sent.
        // (`host` has no port left to strip, so a domain equal to it is portless, and a domain
        // equal to a ported authority carries that port.)
        if (d.size() == host.size() && equalsIgnoreCase(d, host)) return &vh;
        if (has_port && d.size() == authority.size() && equalsIgnoreCase(d, authority)) return &vh;
        continue;
      }
      if (d.size() == 1) {  // "*"
        if (!catch_all) catch_all = &vh;
        continue;
      }
      const std::string_view target = hostWithoutPort(d) != d ? authority : host;
      if (first == '*') {
        // Envoy suffix wildcard: "*.foo.com" needs at least one character before ".foo.com".
        std::string_view suffix = std::string_view(d).substr(1);
        if (suffix.size() > best_suffix_len && target.size() > suffix.size() &&
            endsWithIgnoreCase(target, suffix)) {
          best_suffix = &vh;
          best_suffix_len = suffix.size();
        }
      } else {
        // Envoy prefix wildcard ("foo.*"), checked after every suffix wildcard.
        std::string_view prefix = std::string_view(d).substr(0, d.size() - 1);
        if (prefix.size() > best_prefix_len && target.size() > prefix.size() &&
            startsWithIgnoreCase(target, prefix)) {
          best_prefix = &vh;
          best_prefix_len = prefix.size();
        }
      }
    }
  }
  if (best_suffix) return best_suffix;
  if (best_prefix) return best_prefix;
  return catch_all;
}

const tr::Route* selectRouteInHost(const tr::VirtualHost& vhost, const RequestView& req) {
  for (const auto& r : vhost.routes) {
    if (matches(r.match, req)) return &r;
  }
  return nullptr;
}

RouteSelection selectRoute(const tr::RouteTable& table, const RequestView& req) {
  RouteSelection sel;
  sel.virtual_host = selectVirtualHost(table, req.authority);
  if (sel.virtual_host) sel.route = selectRouteInHost(*sel.virtual_host, req);
  return sel;
}

bool usesClaims(const tr::RouteTable& table) {
  for (const auto& vh : table.virtual_hosts) {
    for (const auto& r : vh.routes) {
      for (const auto& h : r.match.headers) {
        if (!h.name.empty() && h.name.front() == '@') return true;
      }
    }
  }
  return false;
}

bool matches(const tr::RouteMatch& match, const RequestView& req) {
  if (match.uri && !matchUri(*match.uri, req)) return false;
  if (match.scheme && !matchString(*match.scheme, req.scheme)) return false;
  if (match.method && !matchString(*match.method, req.method)) return false;
  if (match.authority && !matchString(*match.authority, req.authority)) return false;
  for (const auto& h : match.headers) {
    if (!matchHeader(h, req)) return false;
  }
  if (!match.query_params.empty()) {
    const std::string_view query = req.query();
    for (const auto& q : match.query_params) {
      auto v = queryParam(query, q.name);
      if (!v || !matchString(q.match, *v)) return false;
    }
  }
  return true;
}

const tr::WeightedCluster& pickCluster(const tr::ForwardAction& action, uint64_t random) {
  // Callers guarantee at least one destination (translate never emits an empty list).
  if (action.clusters.size() == 1) return action.clusters.front();
  uint64_t total = action.total_weight;
  if (total == 0) {
    for (const auto& c : action.clusters) total += c.weight;
    if (total == 0) return action.clusters.front();
  }
  // Envoy: pick = random % total, then walk the cumulative weights.
  uint64_t pick = random % total;
  uint64_t acc = 0;
  for (const auto& c : action.clusters) {
    acc += c.weight;
    if (pick < acc) return c;
  }
  return action.clusters.back();
}

std::optional<std::string> rewritePath(const tr::Route& route, const tr::ForwardAction& action,
                                       const RequestView& req) {
  if (!action.uri_rewrite) return std::nullopt;
  const auto& rw = *action.uri_rewrite;
  const std::string_view path = req.path;
  if (rw.prefix_replacement) {
    // Envoy: the rewrite replaces the matched part; whatever follows (query included) is kept.
    size_t n = matchedPathLength(route, path);
    std::string out;
    out.reserve(rw.prefix_replacement->size() + path.size() - n);
    out.append(*rw.prefix_replacement);
    out.append(path.substr(n));
    return out;
  }
  if (rw.regex) {
    // Envoy regex_rewrite: replace every match in the path without its query, keep the query.
    const std::string_view just_path = pathForMatching(path);
    std::string out(just_path);
    if (rw.regex->ok()) re2::RE2::GlobalReplace(&out, *rw.regex, rw.regex_substitution);
    out.append(path.substr(just_path.size()));
    return out;
  }
  return std::nullopt;
}

std::string redirectLocation(const tr::Route& route, const tr::RedirectAction& redirect,
                             const RequestView& req) {
  // Envoy's Http::Utility::newUri with the redirect Istio builds (ApplyRedirect).
  const std::string_view scheme = redirect.scheme && !redirect.scheme->empty()
                                      ? std::string_view(*redirect.scheme)
                                      : req.scheme;

  // Port: explicit `port`, or the listener port for FROM_REQUEST_PORT. FROM_PROTOCOL_DEFAULT sets
  // nothing in Envoy (as when no port is given). Istio removes a port equal to the scheme's
  // default (80 for http, 443 for https) before Envoy sees it, so such a redirect behaves like one
  // without a port: the Host keeps the port the client sent ("b:80" stays "b:80").
  std::optional<uint16_t> port = redirect.port;
  if (!port && redirect.derive_port == tr::RedirectAction::DerivePort::kFromRequestPort &&
      req.listener_port != 0) {
    port = req.listener_port;
  }
  if (port && *port == defaultPortFor(scheme)) port.reset();
  std::array<char, 8> port_buf{};
  std::string_view port_text;
  if (port) {
    port_buf[0] = ':';
    auto res = std::to_chars(port_buf.data() + 1, port_buf.data() + port_buf.size(), *port);
    port_text = std::string_view(port_buf.data(), res.ptr - port_buf.data());
  }

  std::string_view host;
  if (redirect.authority && !redirect.authority->empty()) {
    host = *redirect.authority;
  } else {
    host = redirectHost(req.authority, req.scheme, scheme, port.has_value());
  }

  // Path: `uri` replaces the path (the request's query is kept unless `uri` has its own);
  // `prefix_rewrite` replaces the matched prefix; otherwise the request path as is. Envoy's
  // strip_query defaults to false and Istio never sets it.
  std::string path;
  if (redirect.uri && !redirect.uri->empty()) {
    path = *redirect.uri;
    if (path.find('?') == std::string::npos) {
      auto q = req.path.find('?');
      if (q != std::string_view::npos) path.append(req.path.substr(q));
    }
  } else if (redirect.prefix_rewrite) {
    size_t n = matchedPathLength(route, req.path);
    path = *redirect.prefix_rewrite;
    path.append(req.path.substr(n));
  } else {
    path = req.path;
  }
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');

  std::string out;
  out.reserve(scheme.size() + 3 + host.size() + port_text.size() + path.size());
  out.append(scheme).append("://").append(host).append(port_text).append(path);
  return out;
}

std::string httpsRedirectLocation(const RequestView& req) {
  std::string_view host = redirectHost(req.authority, req.scheme, "https", false);
  std::string out;
  out.reserve(8 + host.size() + req.path.size());
  out.append("https://").append(host).append(req.path.empty() ? std::string_view("/") : req.path);
  return out;
}

bool corsOriginAllowed(const tr::CorsPolicy& policy, std::string_view origin) {
  for (const auto& m : policy.allow_origins) {
    if (matchString(m, "*") || matchString(m, origin)) return true;
  }
  return false;
}

CorsResult evaluateCors(const tr::CorsPolicy& policy, const RequestView& req) {
  // Envoy's CORS filter (extensions/filters/http/cors): decodeHeaders answers preflights,
  // encodeHeaders decorates responses to allowed origins. A locally answered preflight passes
  // through the filter's encode step too, so it also carries the expose-headers.
  CorsResult res;
  const auto origin = req.header("origin");
  if (!origin || origin->empty()) return res;
  res.origin_allowed = corsOriginAllowed(policy, *origin);

  const auto request_method = req.header("access-control-request-method");
  res.is_preflight = req.method == "OPTIONS" && request_method && !request_method->empty();

  auto add = [&](std::string_view name, std::string_view value) {
    res.response_headers.emplace_back(std::string(name), std::string(value));
  };
  const bool credentials = policy.allow_credentials.value_or(false);

  if (res.is_preflight && (res.origin_allowed || !policy.forward_unmatched_preflights)) {
    res.answer_locally = true;
    if (res.origin_allowed) add("access-control-allow-origin", *origin);
    if (credentials) add("access-control-allow-credentials", "true");
    if (!policy.allow_methods.empty()) {
      add("access-control-allow-methods",
          policy.allow_methods == "*" ? *request_method : std::string_view(policy.allow_methods));
    }
    if (!policy.allow_headers.empty()) {
      std::string_view value = policy.allow_headers;
      if (value == "*") value = req.header("access-control-request-headers").value_or("");
      add("access-control-allow-headers", value);
    }
    if (policy.max_age_seconds)
      add("access-control-max-age", std::to_string(*policy.max_age_seconds));
    if (res.origin_allowed && !policy.expose_headers.empty()) {
      add("access-control-expose-headers", policy.expose_headers);
    }
    return res;
  }

  if (res.origin_allowed) {
    add("access-control-allow-origin", *origin);
    if (credentials) add("access-control-allow-credentials", "true");
    if (!policy.expose_headers.empty()) add("access-control-expose-headers", policy.expose_headers);
  }
  return res;
}

FaultDecision decideFault(const tr::FaultPolicy& fault, uint64_t random_delay,
                          uint64_t random_abort) {
  FaultDecision d;
  if (fault.delay && sampled(fault.delay->per_million, random_delay)) {
    d.delay = fault.delay->duration;
  }
  if (fault.abort && sampled(fault.abort->per_million, random_abort)) {
    if (fault.abort->grpc_status) {
      d.abort_grpc_status = *fault.abort->grpc_status;
    } else if (fault.abort->http_status != 0) {
      d.abort_status = fault.abort->http_status;
    }
  }
  return d;
}

}  // namespace halyard::proxy::router
