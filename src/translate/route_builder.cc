#include "translate/route_builder.h"

#include <algorithm>

#include "config/model/host_name.h"
#include "translate/match_compiler.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

// Istio's mesh default (defaultHttpRetryPolicy): used when a route sets no `retries`, and its
// retryOn also when `retries` gives attempts but no retryOn.
constexpr uint32_t kDefaultRetryAttempts = 2;
constexpr uint32_t kDefaultRetryOn = kRetryConnectFailure | kRetryRefusedStream |
                                     kRetryUnavailable | kRetryCancelled |
                                     kRetryRetriableStatusCodes;

struct RetryToken {
  std::string_view name;
  uint32_t bit;
};
constexpr RetryToken kRetryTokens[] = {
    {"5xx", kRetry5xx},
    {"gateway-error", kRetryGatewayError},
    {"reset", kRetryReset},
    {"reset-before-request", kRetryResetBeforeRequest},
    {"connect-failure", kRetryConnectFailure},
    {"retriable-4xx", kRetryRetriable4xx},
    {"refused-stream", kRetryRefusedStream},
    {"retriable-status-codes", kRetryRetriableStatusCodes},
    {"retriable-headers", kRetryRetriableHeaders},
    {"envoy-ratelimited", kRetryEnvoyRateLimited},
    {"http3-post-connect-failure", kRetryHttp3PostConnectFailure},
    {"cancelled", kRetryCancelled},
    {"deadline-exceeded", kRetryDeadlineExceeded},
    {"internal", kRetryInternal},
    {"resource-exhausted", kRetryResourceExhausted},
    {"unavailable", kRetryUnavailable},
};

constexpr uint32_t kMillion = 1'000'000;

// A percentage (0-100, granularity 0.0001) in parts per million, as Istio hands it to Envoy.
uint32_t perMillion(double percent) {
  if (!(percent > 0)) return 0;
  return static_cast<uint32_t>(std::min(percent * 10000.0, static_cast<double>(kMillion)));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `:xxx` pseudo-headers and Host are never set or removed as ordinary headers.
bool isInternalHeader(std::string_view name) {
  return name.starts_with(':') || toLower(name) == "host";
}
bool isAuthorityHeader(std::string_view name) {
  const std::string n = toLower(name);
  return n == "host" || n == ":authority";
}

struct TranslatedHeaders {
  HeaderOps request;
  HeaderOps response;
  std::string authority;  // from request set/add of host or :authority (set wins)
};

void addOps(const model::HeaderOperations& in, HeaderOps& out) {
  for (const auto& [k, v] : in.set) {
    if (!isInternalHeader(k)) out.set.emplace_back(toLower(k), v);
  }
  for (const auto& [k, v] : in.add) {
    if (!isInternalHeader(k)) out.add.emplace_back(toLower(k), v);
  }
  for (const auto& k : in.remove) {
    if (!isInternalHeader(k)) out.remove.push_back(toLower(k));
  }
}

TranslatedHeaders translateHeaders(const model::Boxed<model::Headers>& in) {
  TranslatedHeaders out;
  if (!in) return out;
  if (in->request) {
    addOps(*in->request, out.request);
    for (const auto& [k, v] : in->request->add) {
      if (isAuthorityHeader(k)) out.authority = v;
    }
    for (const auto& [k, v] : in->request->set) {
      if (isAuthorityHeader(k)) out.authority = v;
    }
  }
  if (in->response) addOps(*in->response, out.response);
  return out;
}

// Config-time selection of a match block (Istio's sourceMatchHTTP): per-match gateways decide
// alone when set; otherwise the proxy's labels must include sourceLabels and its namespace equal
// sourceNamespace.
bool installedHere(const model::HTTPMatchRequest& m, const RouteScope& scope) {
  if (!m.gateways.empty()) {
    return std::find(m.gateways.begin(), m.gateways.end(), scope.gateway) != m.gateways.end();
  }
  if (!model::selectorMatches(m.source_labels, scope.proxy->labels)) return false;
  return !m.source_namespace || m.source_namespace->empty() ||
         *m.source_namespace == scope.proxy->namespace_;
}

}  // namespace

std::vector<Route> RouteBuilder::build(const PreparedVirtualService& vs, const RouteScope& scope) {
  std::vector<Route> out;
  for (const auto& r : vs.http) {
    bool catch_all = false;
    if (r.http.match.empty()) {
      if (auto route = translate(r, nullptr, 0, scope)) out.push_back(std::move(*route));
      catch_all = true;
    } else {
      for (size_t i = 0; i < r.http.match.size() && !catch_all; ++i) {
        if (auto route = translate(r, &r.http.match[i], i, scope)) {
          catch_all = isCatchAll(route->match);
          out.push_back(std::move(*route));
        }
      }
    }
    if (catch_all) break;
  }
  return out;
}

Route RouteBuilder::defaultRoute(const std::string& cluster, std::string origin) const {
  ForwardAction a;
  a.clusters.push_back(WeightedCluster{cluster, 1, {}, {}, std::nullopt});
  a.total_weight = 1;
  a.retry.attempts = kDefaultRetryAttempts;
  a.retry.retry_on = kDefaultRetryOn;
  a.retry.retry_other_hosts = !clusters_.usesConsistentHash(cluster);
  Route out;
  out.name = "default";
  out.action = std::move(a);
  out.origin = std::move(origin);
  return out;
}

std::optional<Route> RouteBuilder::translate(const PreparedRoute& r,
                                             const model::HTTPMatchRequest* match,
                                             size_t match_index, const RouteScope& scope) {
  const model::HTTPRoute& in = r.http;
  if (match && match->port.value_or(0) != 0 && *match->port != scope.listener_port)
    return std::nullopt;
  if (match && !installedHere(*match, scope)) return std::nullopt;

  Route out;
  out.name = in.name.value_or("");
  if (match && match->name && !match->name->empty()) out.name += "." + *match->name;
  out.origin = r.origin;
  if (in.match.size() > 1) out.origin += " match[" + std::to_string(match_index) + "]";
  if (match) {
    const MatchSite site{r.meta, r.field_path + ".match[" + std::to_string(match_index) + "]"};
    out.match = compileRouteMatch(*match, site, sink_);
  }

  TranslatedHeaders headers = translateHeaders(in.headers);
  out.request_headers = std::move(headers.request);
  out.response_headers = std::move(headers.response);

  if (const auto& rd = in.redirect) {
    RedirectAction a;
    if (rd->uri && !rd->uri->empty()) a.uri = *rd->uri;
    if (rd->prefix_rewrite) a.prefix_rewrite = *rd->prefix_rewrite;
    if (rd->authority && !rd->authority->empty()) a.authority = *rd->authority;
    if (rd->scheme && !rd->scheme->empty()) a.scheme = *rd->scheme;
    if (rd->port && *rd->port > 0) a.port = static_cast<uint16_t>(*rd->port);
    if (rd->derive_port == "FROM_PROTOCOL_DEFAULT") {
      a.derive_port = RedirectAction::DerivePort::kFromProtocolDefault;
    } else if (rd->derive_port == "FROM_REQUEST_PORT") {
      a.derive_port = RedirectAction::DerivePort::kFromRequestPort;
    }
    const int64_t code = rd->redirect_code.value_or(0);
    if (code == 0 || code == 301) {
      a.code = 301;
    } else if (code == 302 || code == 303 || code == 307 || code == 308) {
      a.code = static_cast<uint16_t>(code);
    } else {
      sink_.report(kIgnoredRoute, *r.meta, rd->line, r.field_path + ".redirect.redirectCode",
                   "redirect code " + std::to_string(code) +
                       " is not one of 301, 302, 303, 307, 308; the route is dropped");
      return std::nullopt;
    }
    out.action = std::move(a);
  } else if (const auto& dr = in.direct_response) {
    DirectResponseAction a;
    a.status = static_cast<uint16_t>(dr->status.value_or(200));
    if (dr->body && dr->body->string) {
      a.body = *dr->body->string;
    } else if (dr->body && dr->body->bytes) {
      if (auto bytes = decodeBase64(*dr->body->bytes)) {
        a.body = std::move(*bytes);
      } else {
        sink_.report(kUntranslatable, *r.meta, dr->body->line,
                     r.field_path + ".directResponse.body.bytes", "body.bytes is not valid base64");
      }
    }
    out.action = std::move(a);
  } else {
    applyForward(r, headers.authority, scope, out);
  }

  if (const auto& f = in.fault) {
    FaultPolicy fault;
    const std::string path = r.field_path + ".fault";
    if (const auto& d = f->delay) {
      if (d->fixed_delay) {
        FaultPolicy::Delay delay;
        if (auto t = parseMillis(*d->fixed_delay)) {
          delay.duration = *t;
        } else {
          sink_.report(kUntranslatable, *r.meta, d->line, path + ".delay.fixedDelay",
                       "fixedDelay \"" + *d->fixed_delay + "\" is not a duration");
        }
        // The deprecated integer `percent` applies only without `percentage`; it defaults to 0.
        delay.per_million = d->percentage ? perMillion(d->percentage->value.value_or(0))
                                          : perMillion(static_cast<double>(d->percent.value_or(0)));
        fault.delay = delay;
      } else {
        sink_.report(kNotServed, *r.meta, d->line, path + ".delay",
                     "only fixedDelay faults are served; this delay is ignored");
      }
    }
    if (const auto& a = f->abort) {
      FaultPolicy::Abort abort;
      abort.per_million = a->percentage ? perMillion(a->percentage->value.value_or(0)) : 0;
      if (a->http_status) {
        abort.http_status = static_cast<uint16_t>(*a->http_status);
        fault.abort = abort;
      } else if (a->grpc_status) {
        abort.grpc_status = *a->grpc_status;
        fault.abort = abort;
      } else {
        sink_.report(kNotServed, *r.meta, a->line, path + ".abort",
                     "only httpStatus and grpcStatus aborts are served; this abort is ignored");
      }
    }
    if (fault.delay || fault.abort) out.fault = std::move(fault);
  }

  if (const auto& c = in.cors_policy) {
    CorsPolicy cors;
    const MatchSite site{r.meta, r.field_path + ".corsPolicy.allowOrigins"};
    if (!c->allow_origins.empty()) {
      for (const auto& o : c->allow_origins) {
        if (auto m = compileStringMatch(o, false, site, sink_))
          cors.allow_origins.push_back(std::move(*m));
      }
    } else {
      for (const auto& o : c->allow_origin) {
        StringMatcher m;
        m.kind = StringMatcher::Kind::kExact;
        m.value = o;
        cors.allow_origins.push_back(std::move(m));
      }
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s.append(s.empty() ? "" : ",").append(x);
      return s;
    };
    cors.allow_methods = join(c->allow_methods);
    cors.allow_headers = join(c->allow_headers);
    cors.expose_headers = join(c->expose_headers);
    if (c->max_age) {
      if (auto t = parseMillis(*c->max_age)) {
        cors.max_age_seconds = t->count() / 1000;
      } else {
        sink_.report(kUntranslatable, *r.meta, c->line, r.field_path + ".corsPolicy.maxAge",
                     "maxAge \"" + *c->max_age + "\" is not a duration");
      }
    }
    cors.allow_credentials = c->allow_credentials;
    cors.forward_unmatched_preflights = c->unmatched_preflights.value_or("") != "IGNORE";
    out.cors = std::move(cors);
  }
  return out;
}

void RouteBuilder::applyForward(const PreparedRoute& r, const std::string& route_authority,
                                const RouteScope& scope, Route& out) {
  const model::HTTPRoute& in = r.http;
  ForwardAction a;
  auto resolve = [&](const model::Destination& d, const std::string& path) {
    return clusters_.resolve(d, DestinationRef{r.meta, path}, r.namespace_, scope.listener_port);
  };

  if (in.route.empty()) {
    sink_.report(kUntranslatable, *r.meta, in.line, r.field_path,
                 "route entry has no route, redirect, directResponse or delegate");
  }
  for (size_t i = 0; i < in.route.size(); ++i) {
    const auto& dst = in.route[i];
    // One destination takes all traffic whatever its weight; among several, zero (or
    // omitted) weights are dropped and the rest are relative.
    const int64_t weight = in.route.size() == 1 ? 1 : dst.weight.value_or(0);
    if (weight <= 0 || !dst.destination) continue;
    WeightedCluster wc;
    wc.cluster =
        resolve(*dst.destination, r.field_path + ".route[" + std::to_string(i) + "].destination");
    wc.weight = static_cast<uint32_t>(weight);
    TranslatedHeaders h = translateHeaders(dst.headers);
    wc.request_headers = std::move(h.request);
    wc.response_headers = std::move(h.response);
    if (!h.authority.empty()) wc.authority_rewrite = h.authority;
    a.total_weight += wc.weight;
    a.clusters.push_back(std::move(wc));
  }
  if (!in.route.empty() && a.clusters.empty()) {
    sink_.report(kUntranslatable, *r.meta, in.line, r.field_path + ".route",
                 "every destination has weight 0");
  }

  if (const auto& rw = in.rewrite) {
    if (const auto& rr = rw->uri_regex_rewrite) {
      UriRewrite u;
      const MatchSite site{r.meta, r.field_path + ".rewrite.uriRegexRewrite.match"};
      u.regex = compileRegex(rr->match.value_or(""), site, rr->line, sink_);
      u.regex_substitution = rr->rewrite.value_or("");
      a.uri_rewrite = std::move(u);
    } else if (rw->uri && !rw->uri->empty()) {
      UriRewrite u;
      u.prefix_replacement = *rw->uri;
      a.uri_rewrite = std::move(u);
    }
  }
  if (in.rewrite && in.rewrite->authority && !in.rewrite->authority->empty()) {
    a.authority_rewrite = *in.rewrite->authority;
  } else if (!route_authority.empty()) {
    a.authority_rewrite = route_authority;
  }
  // Istio gives the route-level authority precedence over a destination's, whichever
  // destination is picked; dropping the destination's value here lets the proxy apply whatever
  // authority the snapshot still holds without knowing that rule.
  if (a.authority_rewrite) {
    for (auto& wc : a.clusters) wc.authority_rewrite.reset();
  }

  if (in.timeout) {
    auto t = parseMillis(*in.timeout);
    if (!t) {
      sink_.report(kUntranslatable, *r.meta, in.line, r.field_path + ".timeout",
                   "timeout \"" + *in.timeout + "\" is not a duration");
    } else if (t->count() > 0) {
      a.timeout = *t;  // 0s means no timeout, like an absent one
    }
  }

  // Retries (istio-semantics.md §1.5). Consistent-hash destinations keep retrying the same
  // host unless the route asks otherwise.
  const bool consistent_hash = in.route.size() == 1 && !a.clusters.empty() &&
                               clusters_.usesConsistentHash(a.clusters[0].cluster);
  RetryPolicy& retry = a.retry;
  retry.retry_other_hosts = !consistent_hash;
  if (!in.retries) {
    retry.attempts = kDefaultRetryAttempts;
    retry.retry_on = kDefaultRetryOn;
  } else if (in.retries->attempts.value_or(0) > 0) {
    const auto& rt = *in.retries;
    const std::string path = r.field_path + ".retries";
    retry.attempts = static_cast<uint32_t>(*rt.attempts);
    retry.retry_on = kDefaultRetryOn;
    if (rt.retry_on && !trim(*rt.retry_on).empty()) {
      retry.retry_on = 0;
      std::string_view rest = *rt.retry_on;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view token = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (token.empty()) continue;
        uint32_t code = 0;
        bool numeric =
            std::all_of(token.begin(), token.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (numeric && token.size() == 3)
          code = static_cast<uint32_t>(std::stoul(std::string(token)));
        if (code >= 100 && code <= 599) {
          retry.retriable_status_codes.push_back(static_cast<uint16_t>(code));
          continue;
        }
        auto known = std::find_if(std::begin(kRetryTokens), std::end(kRetryTokens),
                                  [&](const RetryToken& t) { return t.name == token; });
        if (known == std::end(kRetryTokens)) {
          sink_.report(kNotServed, *r.meta, rt.line, path + ".retryOn",
                       "retryOn condition \"" + std::string(token) + "\" is unknown; ignored");
          continue;
        }
        retry.retry_on |= known->bit;
      }
      // Status codes imply retriable-status-codes.
      if (!retry.retriable_status_codes.empty()) retry.retry_on |= kRetryRetriableStatusCodes;
    }
    if (rt.per_try_timeout) {
      if (auto t = parseMillis(*rt.per_try_timeout)) {
        retry.per_try_timeout = *t;
      } else {
        sink_.report(kUntranslatable, *r.meta, rt.line, path + ".perTryTimeout",
                     "perTryTimeout \"" + *rt.per_try_timeout + "\" is not a duration");
      }
    }
    if (rt.backoff) {
      if (auto t = parseMillis(*rt.backoff); t && t->count() > 0) {
        retry.backoff_base = *t;
      } else {
        sink_.report(kUntranslatable, *r.meta, rt.line, path + ".backoff",
                     "backoff \"" + *rt.backoff + "\" is not a positive duration");
      }
    }
    if (rt.retry_ignore_previous_hosts) retry.retry_other_hosts = *rt.retry_ignore_previous_hosts;
    if (rt.retry_remote_localities.value_or(false)) {
      sink_.report(kNotServed, *r.meta, rt.line, path + ".retryRemoteLocalities",
                   "retryRemoteLocalities is not enforced by this proxy yet");
    }
  }
  // attempts: 0 (or unset inside `retries`) disables retries: the policy stays empty.

  // Mirrors (§1.7): absent percentage mirrors everything, an explicit 0 nothing.
  if (in.mirror) {
    uint32_t share = kMillion;
    if (in.mirror_percentage) {
      share = perMillion(in.mirror_percentage->value.value_or(0));
    } else if (auto legacy = in.mirror_percent ? in.mirror_percent : in.mirror_percent_alias) {
      share = perMillion(static_cast<double>(*legacy));
    }
    if (share > 0) {
      a.mirrors.push_back(MirrorPolicy{resolve(*in.mirror, r.field_path + ".mirror"), share});
    }
  }
  for (size_t i = 0; i < in.mirrors.size(); ++i) {
    const auto& m = in.mirrors[i];
    if (!m.destination) continue;
    const uint32_t share = m.percentage ? perMillion(m.percentage->value.value_or(0)) : kMillion;
    if (share == 0) continue;
    a.mirrors.push_back(MirrorPolicy{
        resolve(*m.destination, r.field_path + ".mirrors[" + std::to_string(i) + "].destination"),
        share});
  }
  out.action = std::move(a);
}

}  // namespace halyard::translate
