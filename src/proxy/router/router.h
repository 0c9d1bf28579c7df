// Request routing against a compiled RouteTable: pure functions, no I/O, no allocation on the
// matching path. The connection manager calls these per request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/request_view.h"
#include "translate/snapshot.h"

namespace halyard::proxy::router {

struct RouteSelection {
  const translate::VirtualHost* virtual_host = nullptr;  // null: no virtual host for the Host
  const translate::Route* route = nullptr;               // null: no route matched (404 NR)
};

// Picks the virtual host for the request's authority (exact, then longest wildcard, then "*";
// port ignored; case-insensitive) and the first route whose match conditions all hold.
RouteSelection selectRoute(const translate::RouteTable& table, const http::RequestView& req);

// True when every condition of the match holds for the request.
bool matches(const translate::RouteMatch& match, const http::RequestView& req);

// Some route of `table` matches on a JWT claim (@request.auth.claims): requests need their token
// verified before a route is selected.
bool usesClaims(const translate::RouteTable& table);

// Picks one destination by weight; `random` is any uniformly distributed 64-bit value.
const translate::WeightedCluster& pickCluster(const translate::ForwardAction& action,
                                              uint64_t random);

// The path to send upstream when the route rewrites it (prefix or regex); nullopt when not.
std::optional<std::string> rewritePath(const translate::Route& route,
                                       const translate::ForwardAction& action,
                                       const http::RequestView& req);

// The Location header of a redirect route (Envoy's newUri): `uri` replaces the path and keeps
// the request's query unless it has its own; `prefix_rewrite` replaces the matched prefix. The
// port is the configured one (explicit, or FROM_REQUEST_PORT = listener port), except that 80 on
// http and 443 on https count as no port (Istio drops them). With a port, the Host's own port
// is replaced; without one, the Host is kept exactly as sent ("b:80" stays "b:80") unless the
// scheme changes away from that port's default. FROM_PROTOCOL_DEFAULT configures no port,
// exactly like Istio/Envoy.
std::string redirectLocation(const translate::Route& route,
                             const translate::RedirectAction& redirect,
                             const http::RequestView& req);

// CORS: what to do with a request on a route that has a corsPolicy (Envoy's CORS filter).
// Preflight from an allowed origin: answered locally with allow-origin/-credentials/-methods/
// -headers/-max-age/expose-headers. Unmatched preflight: forwarded untouched (FORWARD), or answered
// locally without allow-origin (IGNORE). Other requests from an allowed origin: the response gets
// allow-origin, allow-credentials and expose-headers.
struct CorsResult {
  bool is_preflight = false;  // OPTIONS with Origin and Access-Control-Request-Method
  bool origin_allowed = false;
  bool answer_locally = false;  // preflight answered by the proxy (200, no upstream call)
  // Headers to add to the (local or upstream) response, lowercase names.
  std::vector<std::pair<std::string, std::string>> response_headers;
};
CorsResult evaluateCors(const translate::CorsPolicy& policy, const http::RequestView& req);

// Fault injection decision for one request; `random` as for pickCluster. A gRPC abort sets only
// abort_grpc_status (answer 200 with that grpc-status); delay and abort may both be set (delay
// first, then abort, as Envoy's fault filter does).
struct FaultDecision {
  std::optional<translate::Millis> delay;
  std::optional<uint16_t> abort_status;  // HTTP status to answer with
  std::optional<std::string> abort_grpc_status;
};
FaultDecision decideFault(const translate::FaultPolicy& fault, uint64_t random_delay,
                          uint64_t random_abort);

// True with probability per_million / 10^6.
inline bool sampled(uint32_t per_million, uint64_t random) {
  return per_million >= 1'000'000 || (random % 1'000'000) < per_million;
}

// ---- additions (compatible with the contract above) --------------------------------------

// The Host/authority without its port: "a.com:80" -> "a.com", "[::1]:80" -> "[::1]".
std::string_view hostWithoutPort(std::string_view authority);

// Where a route came from, for reasons: "default/api-virtual http[1]" (or its name).
inline std::string_view routeOrigin(const translate::Route& route) {
  return route.origin.empty() ? std::string_view(route.name) : std::string_view(route.origin);
}
// The authority's numeric port ("a.com:8080" -> 8080), `default_port` when it has none (or one
// that is not a port number).
uint16_t authorityPort(std::string_view authority, uint16_t default_port);

// The virtual host for an authority (selectRoute's first step), null when none matches.
const translate::VirtualHost* selectVirtualHost(const translate::RouteTable& table,
                                                std::string_view authority);

// The first route of `vhost` whose match holds, null when none does.
const translate::Route* selectRouteInHost(const translate::VirtualHost& vhost,
                                          const http::RequestView& req);

// One StringMatcher against one value (exact/prefix honour ignore_case, regex is a full match,
// present always holds).
bool matchString(const translate::StringMatcher& m, std::string_view value);

// First value of a query parameter, as sent (not percent-decoded: Envoy's router compares the
// raw text). `?key` and `?key=` give "". nullopt when absent. `query` is RequestView::query().
std::optional<std::string_view> queryParam(std::string_view query, std::string_view name);

// The Location for a Gateway `tls.httpsRedirect` virtual host (VirtualHost::require_tls):
// https, same host (":80" dropped when the request came over http), same path and query.
std::string httpsRedirectLocation(const http::RequestView& req);

// True when the request's Origin is allowed by the policy (a matcher that accepts "*" allows
// every origin, as in Envoy).
bool corsOriginAllowed(const translate::CorsPolicy& policy, std::string_view origin);

}  // namespace halyard::proxy::router
