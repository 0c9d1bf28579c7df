// VirtualService: hosts and gateway binding, delegation, and every HTTP/TCP/TLS route rule.
#include <string_view>

#include "config/model/host_name.h"
#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

namespace {

using model::HTTPRoute;
using model::StringMatch;

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

bool isAuthorityHeader(std::string_view name) {
  std::string n = lowerCase(name);
  return n == ":authority" || n == "host";
}

// Headers Envoy manages itself: pseudo-headers and Host.
bool isInternalHeader(std::string_view name) {
  return name.starts_with(":") || lowerCase(name) == "host";
}

// "@request.auth.claims.<name>" or "@request.auth.claims[<a>][<b>]": JWT claim matches.
bool isJwtClaimKey(std::string_view name) {
  constexpr std::string_view kPrefix = "@request.auth.claims";
  if (!lowerCase(name).starts_with(kPrefix)) return false;
  std::string_view rest = name.substr(kPrefix.size());
  if (rest.starts_with(".")) return rest.size() > 1;
  return rest.starts_with("[") && rest.ends_with("]") && rest.size() > 2;
}

void checkMatchHeaderName(ObjectReport& r, const std::string& path, const std::string& name) {
  static const std::set<std::string, std::less<>> kPseudoHeaders = {
      ":method", ":scheme", ":authority", ":path", ":status"};
  if (isJwtClaimKey(name) || kPseudoHeaders.contains(name) || isHeaderToken(name)) return;
  r.error(path, "invalid header name", inQuotes(name),
          "an HTTP token, a pseudo-header or an @request.auth.claims key");
}

// Istio's string match rule: a prefix must not be empty and a regex must compile.
void checkStringMatch(ObjectReport& r, const std::string& path, const StringMatch& m,
                      bool empty_prefix_allowed) {
  if (m.prefix && m.prefix->empty() && !empty_prefix_allowed) {
    r.error(path + ".prefix", "empty prefix match", "\"\"", "a non-empty prefix");
  }
  if (m.regex) {
    if (m.regex->empty()) {
      r.error(path + ".regex", "empty regex match", "\"\"", "a non-empty RE2 regex");
    } else {
      r.fail(path + ".regex", checkRegex(*m.regex), inQuotes(*m.regex));
    }
  }
}

void checkMatchRequest(ObjectReport& r, const std::string& path, const model::HTTPMatchRequest& m) {
  for (const auto& [name, sm] : m.headers) {
    checkMatchHeaderName(r, keyPath(path + ".headers", name), name);
    checkStringMatch(r, keyPath(path + ".headers", name), sm, false);
  }
  for (const auto& [name, sm] : m.without_headers) {
    checkMatchHeaderName(r, keyPath(path + ".withoutHeaders", name), name);
    // regex "*" is not a regex here: it means "header absent".
    if (sm.regex != "*") checkStringMatch(r, keyPath(path + ".withoutHeaders", name), sm, false);
  }
  // Envoy allows an empty URI prefix, but not an empty scheme/method/authority prefix.
  if (m.uri) checkStringMatch(r, path + ".uri", *m.uri, true);
  if (m.scheme) checkStringMatch(r, path + ".scheme", *m.scheme, false);
  if (m.method) checkStringMatch(r, path + ".method", *m.method, false);
  if (m.authority) checkStringMatch(r, path + ".authority", *m.authority, false);
  for (const auto& [name, sm] : m.query_params) {
    checkStringMatch(r, keyPath(path + ".queryParams", name), sm, false);
  }
  if (m.port && *m.port != 0) r.fail(path + ".port", checkPort(*m.port), std::to_string(*m.port));
  checkLabelMap(r, path + ".sourceLabels", m.source_labels);
  if (m.source_namespace && !m.source_namespace->empty() && !isDns1123Label(*m.source_namespace)) {
    r.error(path + ".sourceNamespace", "invalid namespace", inQuotes(*m.source_namespace),
            "a DNS-1123 label");
  }
}

// Gateway references: "name", "ns/name", or the legacy dotted "name.ns.svc.cluster.local".
void checkGatewayNames(ObjectReport& r, const std::string& path,
                       const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    std::string p = indexPath(path, i);
    if (!r.isString(p)) continue;
    auto slash = name.find('/');
    if (slash == std::string::npos) {
      r.fail(p, checkFqdn(name), inQuotes(name));
      // Istio stops at the first reference without a namespace.
      return;
    }
    std::string_view ns = std::string_view(name).substr(0, slash);
    std::string_view gw = std::string_view(name).substr(slash + 1);
    if (!isDns1123Label(ns)) {
      r.error(p, "invalid namespace in gateway reference", inQuotes(name), "<namespace>/<name>");
    } else if (!isDns1123Label(gw)) {
      r.error(p, "invalid gateway name in gateway reference", inQuotes(name),
              "<namespace>/<name> with DNS-1123 labels");
    }
  }
}

void checkHeaderOperations(ObjectReport& r, const std::string& path,
                           const model::HeaderOperations& ops, bool request) {
  auto check_name = [&](const std::string& p, const std::string& name, bool authority_ok) {
    if (name.empty()) {
      r.error(p, "empty header name", "\"\"", "a header name");
    } else if (isInternalHeader(name) && !(authority_ok && isAuthorityHeader(name))) {
      r.error(p, "header cannot be modified", inQuotes(name),
              authority_ok ? "no ':' pseudo-headers other than :authority"
                           : "no Host header and no ':' pseudo-headers");
    }
  };
  for (const auto* map : {&ops.add, &ops.set}) {
    const char* field = map == &ops.add ? ".add" : ".set";
    for (const auto& [name, value] : *map) {
      std::string p = keyPath(path + field, name);
      check_name(p, name, request);
      r.fail(p, checkHeaderValue(value), inQuotes(value));
    }
  }
  for (size_t i = 0; i < ops.remove.size(); ++i) {
    std::string p = indexPath(path + ".remove", i);
    if (r.isString(p)) check_name(p, ops.remove[i], false);
  }
}

void checkHeaders(ObjectReport& r, const std::string& path,
                  const model::Boxed<model::Headers>& headers) {
  if (!headers) return;
  if (headers->request) checkHeaderOperations(r, path + ".request", *headers->request, true);
  if (headers->response) checkHeaderOperations(r, path + ".response", *headers->response, false);
}

// The Host/:authority header may be rewritten in one place only.
void checkAuthorityRewrite(ObjectReport& r, const std::string& path, const HTTPRoute& route) {
  std::string current = route.rewrite && route.rewrite->authority ? *route.rewrite->authority : "";
  if (!route.headers || !route.headers->request) return;
  const auto& ops = *route.headers->request;
  for (const auto* map : {&ops.set, &ops.add}) {
    for (const auto& [name, value] : *map) {
      if (!isAuthorityHeader(name)) continue;
      if (!current.empty()) {
        r.error(path + ".headers.request", "authority header set more than once",
                inQuotes(current) + " and " + inQuotes(value), "one authority rewrite");
        return;
      }
      current = value;
    }
  }
}

void checkPercentage(ObjectReport& r, const std::string& path,
                     const model::Boxed<model::Percent>& pct) {
  if (!pct || !pct->value) return;
  double v = *pct->value;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) {
    r.error(path + ".value", "percentage out of range", formatNumber(v), "0, or 0.0001..100");
  }
}

void checkMirrorPercent(ObjectReport& r, const std::string& path,
                        const std::optional<int64_t>& pct) {
  if (pct && *pct > 100) {
    r.error(path, "mirror percentage above 100", std::to_string(*pct), "0..100");
  }
}

void checkFault(ObjectReport& r, const std::string& path, const model::HTTPFaultInjection& f) {
  static const std::set<std::string, std::less<>> kGrpcStatus = {"OK",
                                                                 "CANCELLED",
                                                                 "UNKNOWN",
                                                                 "INVALID_ARGUMENT",
                                                                 "DEADLINE_EXCEEDED",
                                                                 "NOT_FOUND",
                                                                 "ALREADY_EXISTS",
                                                                 "PERMISSION_DENIED",
                                                                 "RESOURCE_EXHAUSTED",
                                                                 "FAILED_PRECONDITION",
                                                                 "ABORTED",
                                                                 "OUT_OF_RANGE",
                                                                 "UNIMPLEMENTED",
                                                                 "INTERNAL",
                                                                 "UNAVAILABLE",
                                                                 "DATA_LOSS",
                                                                 "UNAUTHENTICATED"};
  if (!f.abort && !f.delay) {
    r.error(path, "fault injection without abort or delay", "{}", "abort and/or delay");
  }
  if (f.abort) {
    const std::string p = path + ".abort";
    checkPercentage(r, p + ".percentage", f.abort->percentage);
    if (f.abort->grpc_status && !kGrpcStatus.contains(*f.abort->grpc_status)) {
      r.error(p + ".grpcStatus", "unknown gRPC status", inQuotes(*f.abort->grpc_status),
              "a gRPC status name such as UNAVAILABLE or NOT_FOUND");
    } else if (f.abort->http2_error) {
      r.error(p + ".http2Error", "HTTP/2 abort faults are not supported",
              inQuotes(*f.abort->http2_error), "httpStatus or grpcStatus");
    } else if (f.abort->http_status) {
      int64_t s = static_cast<int32_t>(*f.abort->http_status);
      if (s < 200 || s > 600) {
        r.error(p + ".httpStatus", "HTTP status out of range", std::to_string(s), "200..600");
      }
    }
  }
  if (f.delay) {
    const std::string p = path + ".delay";
    checkPercentage(r, p + ".percentage", f.delay->percentage);
    if (f.delay->fixed_delay) {
      r.fail(p + ".fixedDelay", checkDurationPrecision(*f.delay->fixed_delay),
             *f.delay->fixed_delay);
    } else if (f.delay->exponential_delay) {
      r.error(p + ".exponentialDelay", "exponential delay faults are not supported",
              *f.delay->exponential_delay, "fixedDelay");
    }
  }
}

void checkCors(ObjectReport& r, const std::string& path, const model::CorsPolicy& cors) {
  static const std::set<std::string, std::less<>> kMethods = {
      "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"};
  for (size_t i = 0; i < cors.allow_origins.size(); ++i) {
    const StringMatch& o = cors.allow_origins[i];
    std::string p = indexPath(path + ".allowOrigins", i);
    std::string value = o.exact ? *o.exact : o.prefix ? *o.prefix : o.regex ? *o.regex : "";
    if (value.empty()) {
      r.error(p, "empty origin match", "\"\"", "a non-empty exact, prefix or regex");
    } else if (o.regex) {
      r.fail(p + ".regex", checkRegex(*o.regex), inQuotes(*o.regex));
    }
  }
  for (size_t i = 0; i < cors.allow_methods.size(); ++i) {
    if (r.isString(indexPath(path + ".allowMethods", i)) &&
        !kMethods.contains(cors.allow_methods[i])) {
      r.error(indexPath(path + ".allowMethods", i), "unsupported HTTP method",
              inQuotes(cors.allow_methods[i]),
              "GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, "
              "OPTIONS, TRACE or *");
    }
  }
  for (const auto* list : {&cors.allow_headers, &cors.expose_headers}) {
    const char* field = list == &cors.allow_headers ? ".allowHeaders" : ".exposeHeaders";
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& h = (*list)[i];
      if (r.isString(indexPath(path + field, i)) && h != "*" && !isHeaderToken(h)) {
        r.error(indexPath(path + field, i), "invalid header name", inQuotes(h),
                "an HTTP header name or *");
      }
    }
  }
  if (cors.max_age) {
    const std::string p = path + ".maxAge";
    if (!r.fail(p, checkDurationPrecision(*cors.max_age), *cors.max_age)) {
      auto nanos = durationNanos(*cors.max_age);
      if (nanos && *nanos % 1'000'000'000 != 0) {
        r.error(p, "max age finer than seconds", *cors.max_age, "whole seconds");
      }
    }
  }
}

void checkRetries(ObjectReport& r, const std::string& path, const model::HTTPRetry& retry) {
  // Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies.
  static const std::set<std::string, std::less<>> kRetryOn = {"5xx",
                                                              "gateway-error",
                                                              "reset",
                                                              "reset-before-request",
                                                              "connect-failure",
                                                              "retriable-4xx",
                                                              "refused-stream",
                                                              "retriable-status-codes",
                                                              "retriable-headers",
                                                              "envoy-ratelimited",
                                                              "http3-post-connect-failure",
                                                              "cancelled",
                                                              "deadline-exceeded",
                                                              "internal",
                                                              "resource-exhausted",
                                                              "unavailable"};
  // The status codes Go's net/http has a name for.
  static const std::set<int> kStatusCodes = {
      100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301,
      302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409,
      410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428,
      429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511};
  int64_t attempts = retry.attempts.value_or(0);
  if (attempts < 0) {
    r.error(path + ".attempts", "negative retry attempts", std::to_string(attempts), ">= 0");
  }
  bool retry_on = retry.retry_on && !retry.retry_on->empty();
  if (attempts == 0 && (retry.per_try_timeout || retry_on || retry.retry_remote_localities)) {
    r.error(path, "retry policy set while retries are disabled",
            "attempts 0 with perTryTimeout, retryOn or retryRemoteLocalities",
            "attempts > 0, or none of those fields");
  }
  if (retry.per_try_timeout) {
    r.fail(path + ".perTryTimeout", checkDurationPrecision(*retry.per_try_timeout),
           *retry.per_try_timeout);
  }
  if (retry_on) {
    std::string_view rest = *retry.retry_on;
    while (true) {
      auto comma = rest.find(',');
      std::string_view policy = rest.substr(0, comma);
      bool code = false;
      if (!policy.empty() && policy.size() <= 9) {
        std::string_view digits = policy[0] == '+' ? policy.substr(1) : policy;
        code = !digits.empty() && digits.find_first_not_of("0123456789") == digits.npos &&
               kStatusCodes.contains(std::stoi(std::string(digits)));
      }
      if (!code && !kRetryOn.contains(policy)) {
        r.error(path + ".retryOn", "unknown retryOn policy", inQuotes(policy),
                "Envoy retry policies (5xx, connect-failure, ...) or HTTP status codes, "
                "comma-separated without spaces");
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  if (retry.backoff) {
    r.fail(path + ".backoff", checkDurationPrecision(*retry.backoff), *retry.backoff);
  }
}

bool allUriMatchesArePrefixes(const HTTPRoute& route) {
  for (const auto& m : route.match) {
    if (m.uri && (m.uri->exact || m.uri->regex)) return false;
  }
  return true;
}

void checkRedirect(ObjectReport& r, const std::string& path, const HTTPRoute& route) {
  const model::HTTPRedirect& rd = *route.redirect;
  if (!isSet(rd.uri) && !isSet(rd.authority) && !rd.port && !rd.derive_port && !isSet(rd.scheme) &&
      !isSet(rd.prefix_rewrite)) {
    r.error(path, "redirect does not change anything", "{}",
            "uri, prefixRewrite, authority, scheme, port or derivePort");
    return;
  }
  if (isSet(rd.uri) && isSet(rd.prefix_rewrite)) {
    r.error(path + ".prefixRewrite", "redirect sets both uri and prefixRewrite",
            inQuotes(*rd.prefix_rewrite), "only one of uri or prefixRewrite");
  }
  if (isSet(rd.prefix_rewrite) && !allUriMatchesArePrefixes(route)) {
    r.error(path + ".prefixRewrite", "prefix rewrite on a route with non-prefix uri matches",
            inQuotes(*rd.prefix_rewrite), "every uri match of the rule to be a prefix match");
  }
  if (rd.redirect_code && *rd.redirect_code != 0 &&
      (*rd.redirect_code < 300 || *rd.redirect_code > 399)) {
    r.error(path + ".redirectCode", "redirect code is not 3xx", std::to_string(*rd.redirect_code),
            "a 3xx status, e.g. 301, 302, 303, 307 or 308");
  }
  if (isSet(rd.scheme) && *rd.scheme != "http" && *rd.scheme != "https") {
    r.error(path + ".scheme", "invalid redirect scheme", inQuotes(*rd.scheme), "http or https");
  }
  if (rd.port && *rd.port > 0) {
    r.fail(path + ".port", checkPort(*rd.port), std::to_string(*rd.port));
  }
}

// The decoded size of a base64 text (padding excluded).
size_t base64Size(std::string_view b64) {
  while (!b64.empty() && (b64.back() == '=' || b64.back() == '\n')) b64.remove_suffix(1);
  return b64.size() * 3 / 4;
}

void checkDirectResponse(ObjectReport& r, const std::string& path,
                         const model::HTTPDirectResponse& dr) {
  constexpr size_t kKiB = 1024, kMiB = 1024 * kKiB;
  if (dr.body) {
    size_t size = dr.body->string  ? dr.body->string->size()
                  : dr.body->bytes ? base64Size(*dr.body->bytes)
                                   : 0;
    if (size > kMiB) {
      r.error(path + ".body", "direct response body too large", std::to_string(size) + " bytes",
              "at most 1 MiB");
    }
  }
  if (dr.status) {
    int64_t s = static_cast<int32_t>(*dr.status);
    if (s < 200 || s > 600) {
      r.error(path + ".status", "HTTP status out of range", std::to_string(s), "200..600");
    }
  }
}

void checkRewrite(ObjectReport& r, const std::string& path, const model::HTTPRewrite& rw) {
  bool uri = rw.uri && !rw.uri->empty();
  bool authority = rw.authority && !rw.authority->empty();
  if (uri && rw.uri_regex_rewrite) {
    r.error(path, "rewrite sets both uri and uriRegexRewrite", "both",
            "only one of uri or uriRegexRewrite");
  } else if (!uri && !rw.uri_regex_rewrite && !authority) {
    r.error(path, "rewrite does not change anything", "{}", "uri, uriRegexRewrite or authority");
  } else if (rw.uri_regex_rewrite) {
    const auto& re = *rw.uri_regex_rewrite;
    if (re.match.value_or("").empty() || re.rewrite.value_or("").empty()) {
      r.error(path + ".uriRegexRewrite", "regex rewrite without match or rewrite", "incomplete",
              "both match and rewrite");
    } else {
      r.fail(path + ".uriRegexRewrite.match", checkRegex(*re.match), inQuotes(*re.match));
    }
  }
}

template <class Dest>
void checkWeights(ObjectReport& r, const std::string& path, const std::vector<Dest>& route) {
  int64_t total = 0;
  for (size_t i = 0; i < route.size(); ++i) {
    std::string p = indexPath(path, i);
    if (route[i].destination) checkDestination(r, p + ".destination", *route[i].destination);
    int64_t w = static_cast<int32_t>(route[i].weight.value_or(0));
    if (w < 0) r.error(p + ".weight", "negative weight", std::to_string(w), ">= 0");
    total += w;
  }
  if (route.size() > 1 && total == 0) {
    r.error(path, "all destination weights are 0", "total weight 0",
            "a positive weight on at least one destination");
  }
}

void checkHttpRoute(ObjectReport& r, const std::string& path, const HTTPRoute& route,
                    bool in_delegate) {
  bool root = !in_delegate && route.delegate;
  if (root) {
    if (route.redirect) {
      r.error(path + ".redirect", "delegating rule with a redirect", "redirect", "only delegate");
    }
    if (!route.route.empty()) {
      r.error(path + ".route", "delegating rule with a route", "route", "only delegate");
    }
  } else {
    if (in_delegate && route.delegate) {
      r.error(path + ".delegate", "delegate VirtualService rule delegates again", "delegate",
              "one level of delegation");
    }
    const char* action = route.redirect ? "redirect" : "directResponse";
    if (route.redirect || route.direct_response) {
      if (!route.route.empty()) {
        r.error(path + ".route", std::string("route together with ") + action, "route",
                "only one of route, redirect or directResponse");
      }
      if (route.fault) {
        r.error(path + ".fault", std::string("fault injection together with ") + action, "fault",
                "no fault on redirect or directResponse rules");
      }
      if (route.rewrite) {
        r.error(path + ".rewrite", std::string("rewrite together with ") + action, "rewrite",
                "no rewrite on redirect or directResponse rules");
      }
      if (route.redirect && route.direct_response) {
        r.error(path + ".directResponse", "directResponse together with redirect", "directResponse",
                "only one of route, redirect or directResponse");
      }
    } else if (route.route.empty()) {
      r.error(path, "rule without an action", "no route, redirect or directResponse",
              "one of route, redirect, directResponse or delegate");
    }
    if (route.mirror && !route.mirrors.empty()) {
      r.error(path + ".mirrors", "both mirror and mirrors", "mirror and mirrors",
              "only one of mirror or mirrors");
    }
  }

  for (size_t j = 0; j < route.match.size(); ++j) {
    checkMatchRequest(r, indexPath(path + ".match", j), route.match[j]);
    checkGatewayNames(r, indexPath(path + ".match", j) + ".gateways", route.match[j].gateways);
  }
  checkHeaders(r, path + ".headers", route.headers);
  if (route.cors_policy) checkCors(r, path + ".corsPolicy", *route.cors_policy);
  if (route.fault) checkFault(r, path + ".fault", *route.fault);
  checkMirrorPercent(r, path + ".mirrorPercent", route.mirror_percent);
  checkMirrorPercent(r, path + ".mirror_percent", route.mirror_percent_alias);
  if (route.mirror_percentage && route.mirror_percentage->value) {
    double v = *route.mirror_percentage->value;
    if (v < 0 || v > 100) {
      r.error(path + ".mirrorPercentage.value", "mirror percentage out of range", formatNumber(v),
              "0..100");
    }
  }
  if (route.mirror) checkDestination(r, path + ".mirror", *route.mirror);
  for (size_t i = 0; i < route.mirrors.size(); ++i) {
    const auto& m = route.mirrors[i];
    std::string p = indexPath(path + ".mirrors", i);
    if (m.destination) checkDestination(r, p + ".destination", *m.destination);
    if (m.percentage && m.percentage->value &&
        (*m.percentage->value < 0 || *m.percentage->value > 100)) {
      r.error(p + ".percentage.value", "mirror percentage out of range",
              formatNumber(*m.percentage->value), "0..100");
    }
  }
  if (route.redirect) checkRedirect(r, path + ".redirect", route);
  if (route.direct_response)
    checkDirectResponse(r, path + ".directResponse", *route.direct_response);
  if (route.retries) checkRetries(r, path + ".retries", *route.retries);
  if (route.rewrite) checkRewrite(r, path + ".rewrite", *route.rewrite);
  checkAuthorityRewrite(r, path, route);
  for (size_t i = 0; i < route.route.size(); ++i) {
    checkHeaders(r, indexPath(path + ".route", i) + ".headers", route.route[i].headers);
  }
  checkWeights(r, path + ".route", route.route);
  if (route.timeout)
    r.fail(path + ".timeout", checkDurationPrecision(*route.timeout), *route.timeout);
}

void checkSniHost(ObjectReport& r, const std::string& path, const std::string& sni,
                  const model::VirtualServiceSpec& vs, bool gateway_bound) {
  Check syntax = gateway_bound ? checkGatewayBoundDomain(true, sni) : checkWildcardDomain(sni);
  if (syntax) {
    // An IP address as SNI only earns a warning in Istio.
    if (!isIpAddress(sni)) r.fail(path, syntax, inQuotes(sni));
    return;
  }
  for (const auto& host : vs.hosts) {
    if (model::hostSubsetOf(sni, host)) return;
  }
  r.error(path, "SNI host not within the VirtualService hosts", inQuotes(sni),
          "a subset of one of the hosts");
}

template <class Match>
void checkL4Match(ObjectReport& r, const std::string& path, const Match& m) {
  for (size_t i = 0; i < m.destination_subnets.size(); ++i) {
    std::string p = indexPath(path + ".destinationSubnets", i);
    if (r.isString(p)) {
      r.fail(p, checkIpSubnet(m.destination_subnets[i]), inQuotes(m.destination_subnets[i]));
    }
  }
  if (m.port && *m.port != 0) r.fail(path + ".port", checkPort(*m.port), std::to_string(*m.port));
  checkLabelMap(r, path + ".sourceLabels", m.source_labels);
  checkGatewayNames(r, path + ".gateways", m.gateways);
}

}  // namespace

void checkDestination(ObjectReport& r, const std::string& path, const model::Destination& dest) {
  if (dest.host) {
    if (*dest.host == "*") {
      r.error(path + ".host", "wildcard destination host", "\"*\"", "a service host name");
    } else {
      r.fail(path + ".host", checkWildcardDomain(*dest.host), inQuotes(*dest.host));
    }
  }
  if (dest.subset && !dest.subset->empty() && !isDns1123Label(*dest.subset)) {
    r.error(path + ".subset", "invalid subset name", inQuotes(*dest.subset), "a DNS-1123 label");
  }
  if (dest.port) {
    int64_t n = dest.port->number.value_or(0);
    r.fail(path + ".port.number", checkPort(n), std::to_string(n));
  }
}

void validateVirtualService(ObjectReport& r) {
  const model::VirtualServiceSpec vs = decodeVirtualService(r.object()).spec;
  if (vs.hosts.empty()) {
    // A VirtualService without hosts is a delegate: only HTTP rules, bound through its root.
    if (!vs.gateways.empty()) {
      r.error("spec.gateways", "delegate VirtualService with gateways", "gateways",
              "no gateways on a VirtualService without hosts");
    }
    if (!vs.tls.empty()) {
      r.error("spec.tls", "delegate VirtualService with TLS routes", "tls",
              "only http routes on a VirtualService without hosts");
    }
    if (!vs.tcp.empty()) {
      r.error("spec.tcp", "delegate VirtualService with TCP routes", "tcp",
              "only http routes on a VirtualService without hosts");
    }
  }
  bool gateway_bound = false;
  if (!vs.gateways.empty()) {
    checkGatewayNames(r, "spec.gateways", vs.gateways);
    gateway_bound = true;
    for (const auto& g : vs.gateways) gateway_bound = gateway_bound && g != "mesh";
  }
  if (!gateway_bound) {
    for (size_t i = 0; i < vs.http.size(); ++i) {
      for (size_t j = 0; j < vs.http[i].match.size(); ++j) {
        const auto& m = vs.http[i].match[j];
        std::string p = indexPath(indexPath("spec.http", i) + ".match", j);
        for (const auto* map : {&m.headers, &m.without_headers}) {
          for (const auto& [name, sm] : *map) {
            if (!isJwtClaimKey(name)) continue;
            r.error(keyPath(p + (map == &m.headers ? ".headers" : ".withoutHeaders"), name),
                    "JWT claim routing on a VirtualService not bound to a gateway", inQuotes(name),
                    "gateways listing only gateways (not mesh)");
          }
        }
      }
    }
  }

  bool sni = false;
  for (const auto& t : vs.tls) {
    for (const auto& m : t.match) sni = sni || !m.sni_hosts.empty();
  }
  bool hosts_valid = true;
  for (size_t i = 0; i < vs.hosts.size(); ++i) {
    const std::string& h = vs.hosts[i];
    std::string p = indexPath("spec.hosts", i);
    if (!r.isString(p)) {
      hosts_valid = false;
      continue;
    }
    Check c = gateway_bound ? checkGatewayBoundDomain(sni, h) : checkWildcardDomain(h);
    if (c) {
      if (!isIpAddress(h)) {
        r.fail(p, c, inQuotes(h));
        hosts_valid = false;
      }
    } else if (!gateway_bound && h == "*") {
      r.error(p, "wildcard host on a VirtualService bound to the mesh", "\"*\"",
              "a host name, or gateways that do not include mesh");
      hosts_valid = false;
    }
  }
  if (hosts_valid) {
    for (size_t i = 0; i < vs.hosts.size(); ++i) {
      for (size_t j = i + 1; j < vs.hosts.size(); ++j) {
        if (model::hostMatches(vs.hosts[i], vs.hosts[j])) {
          r.error(indexPath("spec.hosts", j), "duplicate hosts",
                  inQuotes(vs.hosts[i]) + " and " + inQuotes(vs.hosts[j]),
                  "hosts that do not overlap");
        }
      }
    }
  }

  if (vs.http.empty() && vs.tcp.empty() && vs.tls.empty()) {
    r.error("spec", "VirtualService without routes", "no http, tcp or tls",
            "at least one of http, tcp or tls");
  }
  for (size_t i = 0; i < vs.http.size(); ++i) {
    checkHttpRoute(r, indexPath("spec.http", i), vs.http[i], vs.hosts.empty());
  }
  for (size_t i = 0; i < vs.tls.size(); ++i) {
    const model::TLSRoute& t = vs.tls[i];
    std::string p = indexPath("spec.tls", i);
    if (t.match.empty() && r.has(p + ".match")) {
      r.error(p + ".match", "TLS route without match", "[]", "at least one match with sniHosts");
    }
    for (size_t j = 0; j < t.match.size(); ++j) {
      const auto& m = t.match[j];
      std::string mp = indexPath(p + ".match", j);
      if (m.sni_hosts.empty() && r.has(mp + ".sniHosts")) {
        r.error(mp + ".sniHosts", "TLS match without SNI hosts", "[]", "at least one SNI host");
      }
      for (size_t k = 0; k < m.sni_hosts.size(); ++k) {
        std::string sp = indexPath(mp + ".sniHosts", k);
        if (r.isString(sp)) checkSniHost(r, sp, m.sni_hosts[k], vs, gateway_bound);
      }
      checkL4Match(r, mp, m);
    }
    if (t.route.empty()) {
      r.error(p + ".route", "TLS route without destinations", "[]", "at least one destination");
    }
    checkWeights(r, p + ".route", t.route);
  }
  for (size_t i = 0; i < vs.tcp.size(); ++i) {
    const model::TCPRoute& t = vs.tcp[i];
    std::string p = indexPath("spec.tcp", i);
    for (size_t j = 0; j < t.match.size(); ++j) {
      checkL4Match(r, indexPath(p + ".match", j), t.match[j]);
    }
    if (t.route.empty()) {
      r.error(p + ".route", "TCP route without destinations", "[]", "at least one destination");
    }
    checkWeights(r, p + ".route", t.route);
  }
  checkExportTo(r, "spec.exportTo", vs.export_to, false);
  analyzeRouteReachability(r);
}

}  // namespace halyard::config
