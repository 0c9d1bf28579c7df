#include "proxy/runtime/request_phases.h"

#include <time.h>

#include <string>
#include <variant>

#include "common/log.h"
#include "proxy/authz/authorizer.h"
#include "proxy/runtime/grpc_status.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;
using telemetry::ResponseFlag;

namespace {

// Gateway tls.httpsRedirect: a plaintext request to a virtual host that requires TLS.
bool requiresTlsRedirect(const tr::VirtualHost& virtual_host, const RequestState& rq) {
  return virtual_host.require_tls && rq.view.scheme != "https";
}

PhaseStatus respond(PhaseContext& c, uint16_t status, bool reason_body = true) {
  c.outcome.reply = LocalReply{.status = status,
                               .reason = c.rq.reason,
                               .reason_body = reason_body,
                               .headers = c.rq.reply_headers};
  return PhaseStatus::kRespond;
}

std::string noRouteReason(const http::RequestView& view, bool no_virtual_host,
                          uint16_t gateway_port) {
  const std::string_view host = router::hostWithoutPort(view.authority);
  std::string reason;
  reason.append("no route for host ").append(host).append(" path ").append(view.pathOnly());
  if (no_virtual_host) {
    reason.append(" (no virtual host for ")
        .append(host)
        .append(" on port ")
        .append(std::to_string(gateway_port))
        .append(")");
  }
  return reason;
}

// Envoy's jwt_authn bypasses CORS preflights (Istio sets bypass_cors_preflight): OPTIONS with
// an Origin and an Access-Control-Request-Method.
bool corsPreflight(const http::RequestView& view) {
  if (view.method != "OPTIONS") return false;
  const auto origin = view.header("origin");
  const auto method = view.header("access-control-request-method");
  return origin && !origin->empty() && method && !method->empty();
}

void claimOf(const void* auth, std::string_view path, std::vector<std::string>& out) {
  static_cast<const authn::VerifiedJwt*>(auth)->claimValues(path, out);
}

// "Jwt is expired" -> "jwt_authn_access_denied{Jwt_is_expired}", Envoy's details.
void authnDetails(std::string& out, std::string_view sentence) {
  out.assign("jwt_authn_access_denied{");
  for (const char ch : sentence) out.push_back(ch == ' ' ? '_' : ch);
  out.push_back('}');
}

// RequestAuthentication (authn/authenticator.h) on inbound and gateway listeners with jwtRules.
// No token continues unauthenticated; a verified one gives the request its principal and claims
// (for authorization and claim routes) and its upstream header changes; a rejected one is
// answered as Envoy's jwt_authn answers: 401 (403 for audiences), the status sentence as the
// body, and www-authenticate naming the request's URL.
PhaseStatus authenticateRequest(PhaseContext& c) {
  RequestState& rq = c.rq;
  if (rq.authn_done) return PhaseStatus::kContinue;
  rq.authn_done = true;
  if (!rq.routes || !rq.routes->authn || corsPreflight(rq.view)) return PhaseStatus::kContinue;
  rq.authn_ran = true;
  // Seconds are all a token's times need: the coarse clock costs a memory read.
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  const int64_t now = ts.tv_sec;
  authn::AuthnOutcome o = rq.routes->authn->authenticate(rq.view, now);
  if (o.kind == authn::AuthnOutcome::Kind::kNoToken) return PhaseStatus::kContinue;
  if (o.kind == authn::AuthnOutcome::Kind::kVerified) {
    rq.jwt = std::move(o.jwt);
    rq.view.auth = rq.jwt.get();
    rq.view.claim = claimOf;
    const tr::JwtRule& rule = *o.rule;
    if (!rule.forward_original_token && o.location->kind == authn::TokenLocation::Kind::kHeader) {
      rq.authn_drop_header = o.location->name;
    }
    if (!rule.output_payload_to_header.empty()) {
      rq.authn_headers.emplace_back(rule.output_payload_to_header, rq.jwt->payload_base64url);
    }
    for (const auto& [claim, header] : rule.output_claim_to_headers) {
      if (auto value = rq.jwt->claimHeaderValue(claim)) {
        rq.authn_headers.emplace_back(header, std::move(*value));
      }
    }
    return PhaseStatus::kContinue;
  }
  const std::string_view sentence = authn::describe(o.status);
  authnDetails(rq.authn_details, sentence);
  rq.record.log.response_code_details = rq.authn_details;
  rq.reason = "request authentication failed: ";
  rq.reason.append(sentence);
  std::string challenge = "Bearer realm=\"";
  challenge.append(rq.view.scheme).append("://").append(rq.view.authority);
  challenge.append(rq.view.pathOnly()).append("\", error=\"invalid_token\"");
  rq.reply_headers.emplace_back("www-authenticate", std::move(challenge));
  if (const auto type = rq.view.header("content-type");
      type && type->starts_with("application/grpc")) {
    // A gRPC client reads a status, not a body: Envoy's local reply maps 401 to UNAUTHENTICATED
    // and 403 to PERMISSION_DENIED, the sentence as grpc-message.
    rq.reply_headers.emplace_back("grpc-status", o.httpStatus() == 403 ? "7" : "16");
    rq.reply_headers.emplace_back("grpc-message", std::string(sentence));
    respond(c, 200, false);
    c.outcome.reply.content_type = "application/grpc";
    return PhaseStatus::kRespond;
  }
  c.outcome.reply = LocalReply{.status = o.httpStatus(),
                               .reason = rq.reason,
                               .reason_body = false,
                               .body = sentence,
                               .headers = rq.reply_headers};
  return PhaseStatus::kRespond;
}

PhaseStatus selectRoute(PhaseContext& c) {
  RequestState& rq = c.rq;
  telemetry::AccessLogEntry& log = rq.record.log;
  // Routes that match on JWT claims need the verified token first (Envoy runs jwt_authn before
  // the router picks the route it forwards on).
  if (rq.routes && rq.routes->routes_use_claims) {
    if (authenticateRequest(c) != PhaseStatus::kContinue) return PhaseStatus::kRespond;
  }
  if (!rq.routes) {
    log.response_flags.set(ResponseFlag::kNoRouteFound);
    log.response_code_details = "route_not_found";
    rq.reason = "no route for host " + std::string(router::hostWithoutPort(rq.view.authority));
    if (c.ds.listener->kind == tr::ListenerKind::kOutboundProxy) {
      const std::string port = std::to_string(rq.view.listener_port);
      rq.reason +=
          ": no service in the mesh has port " + port + " (no listener 0.0.0.0_" + port + ")";
    } else {
      // The listener went away in a reload while this connection stayed open.
      rq.reason += ": listener " + c.ds.listener->name + " is no longer configured";
      rq.close = true;
    }
    return respond(c, 404);
  }
  const router::RouteSelection selection = rq.routes->index.select(rq.view);
  // A virtual host that requires TLS redirects every plaintext request, whether a route matches
  // or not (Envoy checks require_tls before route matching): the next phase answers it.
  const bool redirects = selection.virtual_host && requiresTlsRedirect(*selection.virtual_host, rq);
  if (!selection.virtual_host || (!selection.route && !redirects)) {
    log.response_flags.set(ResponseFlag::kNoRouteFound);
    log.response_code_details = "route_not_found";
    rq.reason = noRouteReason(rq.view, !selection.virtual_host, rq.view.listener_port);
    return respond(c, 404);
  }
  rq.virtual_host = selection.virtual_host;
  rq.route = selection.route;  // null only when the next phase redirects
  if (selection.route) log.route_name = selection.route->name;
  return PhaseStatus::kContinue;
}

PhaseStatus requireTls(PhaseContext& c) {
  RequestState& rq = c.rq;
  if (!requiresTlsRedirect(*rq.virtual_host, rq)) return PhaseStatus::kContinue;
  rq.reply_headers.emplace_back("location", router::httpsRedirectLocation(rq.view));
  rq.record.log.response_code_details = "direct_response";
  rq.reason = "virtual host " + rq.virtual_host->name + " requires TLS (Gateway tls.httpsRedirect)";
  return respond(c, 301);
}

std::string_view ipOf(std::string_view endpoint) {
  const size_t colon = endpoint.rfind(':');
  return colon == std::string_view::npos ? endpoint : endpoint.substr(0, colon);
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void reportDryRun(Downstream& ds, const authz::AuthzDecision& d, std::string_view method,
                  std::string_view path, bool tcp) {
  for (const auto* shadow : d.dry_run_matched) {
    HLOG_INFO("dry-run AuthorizationPolicy {} ({}) matched {} {} on {} (not enforced)",
              shadow->name, shadow->action == tr::AuthzAction::kDeny ? "DENY" : "ALLOW",
              tcp ? "a TCP connection from" : method, tcp ? ds.remote_endpoint : path,
              ds.listener->name);
  }
  if (d.dry_run_deny_allowed) {
    ds.worker.telemetry().rbacShadow(ds.listener->name, tcp, false, *d.dry_run_deny_allowed);
  }
  if (d.dry_run_allow_allowed) {
    ds.worker.telemetry().rbacShadow(ds.listener->name, tcp, true, *d.dry_run_allow_allowed);
  }
}

bool asGrpcReply(RequestState& rq, LocalReply& reply) {
  const auto type = rq.view.header("content-type");
  if (!type || !type->starts_with("application/grpc")) return false;
  // Envoy's mapping of a local reply's HTTP status to a gRPC status.
  const char* code = "2";  // UNKNOWN
  switch (reply.status) {
    case 400:
      code = "13";  // INTERNAL
      break;
    case 401:
      code = "16";  // UNAUTHENTICATED
      break;
    case 403:
      code = "7";  // PERMISSION_DENIED
      break;
    case 404:
      code = "12";  // UNIMPLEMENTED
      break;
    case 429:
    case 502:
    case 503:
    case 504:
      code = "14";  // UNAVAILABLE
      break;
    default:
      break;
  }
  // A trailers-only answer: no body, so the content type is a header of its own.
  rq.reply_headers.emplace_back("content-type", "application/grpc");
  rq.reply_headers.emplace_back("grpc-status", code);
  rq.reply_headers.emplace_back("grpc-message", std::string(reply.body));
  reply.headers = rq.reply_headers;
  reply.status = 200;
  reply.body = {};
  reply.reason_body = false;
  return true;
}

std::string_view remoteAddress(const tr::Listener& listener, const http::RequestView& view,
                               std::string_view peer) {
  // Envoy: with use_remote_address (gateways) the client is the address N entries from the
  // right of X-Forwarded-For (N = xff_num_trusted_hops; 0: the peer itself); without it (a
  // sidecar's inbound listener) the one N + 1 from the right, its caller having appended the
  // address it saw. Fewer entries than that: the peer.
  size_t from_right = listener.xff_trusted_hops + (listener.use_remote_address ? 0 : 1);
  if (from_right == 0) return peer;
  const auto xff = view.header("x-forwarded-for");
  if (!xff || xff->empty()) return peer;
  std::string_view rest = *xff;
  while (true) {
    const size_t comma = rest.rfind(',');
    const std::string_view entry =
        trimmed(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    if (--from_right == 0) return entry.empty() ? peer : entry;
    if (comma == std::string_view::npos) return peer;
    rest = rest.substr(0, comma);
  }
}

namespace {

// AuthorizationPolicy (authz/authorizer.h) for inbound and gateway listeners. A denial is
// Envoy RBAC's: 403 "RBAC: access denied", the deciding policy in the reason and the details.
// A matching CUSTOM policy first asks its external authorizer (a wait: the connection manager
// runs the check, then this phase again with rq.ext_authz_checked set).
PhaseStatus authorizeRequest(PhaseContext& c) {
  RequestState& rq = c.rq;
  if (!rq.routes || rq.routes->listener->authz.empty()) return PhaseStatus::kContinue;
  const tr::Listener& listener = *rq.routes->listener;
  authz::AuthzRequest a;
  a.peer_principal = c.ds.peer_principal;
  a.source_ip = c.ds.remote_ip;
  rq.remote_ip.assign(remoteAddress(listener, rq.view, c.ds.remote_ip));
  a.remote_ip = rq.remote_ip;
  a.destination_ip = ipOf(c.ds.local_endpoint);
  a.destination_port =
      listener.workload_port ? listener.workload_port : c.ds.listener->gateway_port;
  a.sni = c.ds.sni();
  a.host = rq.view.authority;
  a.method = rq.head ? rq.head->method : std::string_view();
  a.path = rq.view.pathOnly();
  a.context = &rq.view;
  a.header = [](const void* view, std::string_view name) {
    return static_cast<const http::RequestView*>(view)->header(name);
  };
  if (rq.authn_ran && rq.jwt) {
    a.has_jwt = true;
    a.request_principal = rq.jwt->principal;
    a.presenter = rq.jwt->presenter;
    a.audiences = &rq.jwt->audiences;
    a.claim = [](const void* view, std::string_view path, std::vector<std::string>& out) {
      const auto* v = static_cast<const http::RequestView*>(view);
      if (v->claim) v->claim(v->auth, path, out);
    };
  }
  const authz::AuthzDecision d = authz::authorize(listener.authz, a);
  if (!rq.ext_authz_checked) reportDryRun(c.ds, d, a.method, a.path, false);
  const tr::AuthzPolicy* decided = d.policy;
  bool allowed = d.allowed;
  if (d.custom && !rq.ext_authz_checked) {
    if (d.custom->ext_provider) {
      c.outcome.ext_authz = d.custom;
      return PhaseStatus::kWait;
    }
    // A provider the mesh config does not define: Istio denies what the policy matches.
    allowed = false;
    decided = d.custom;
  }
  if (allowed) return PhaseStatus::kContinue;
  c.ds.worker.telemetry().rbacDenied(c.ds.listener->name, false);
  rq.reason = d.custom && !rq.ext_authz_checked
                  ? "denied by AuthorizationPolicy " + d.custom->name + ": its CUSTOM provider \"" +
                        d.custom->provider + "\" is not defined in the mesh config"
                  : d.reason();
  rq.authz_details =
      "rbac_access_denied_matched_policy[" + (decided ? decided->name : std::string("none")) + "]";
  rq.record.log.response_code_details = rq.authz_details;
  c.outcome.reply = LocalReply{.status = 403,
                               .reason = rq.reason,
                               .reason_body = false,
                               .body = "RBAC: access denied",
                               .headers = rq.reply_headers};
  asGrpcReply(rq, c.outcome.reply);
  return PhaseStatus::kRespond;
}

PhaseStatus applyCors(PhaseContext& c) {
  RequestState& rq = c.rq;
  const tr::Route& route = *rq.route;
  if (!route.cors) return PhaseStatus::kContinue;
  rq.cors = router::evaluateCors(*route.cors, rq.view);
  if (!rq.cors.answer_locally) return PhaseStatus::kContinue;
  rq.record.log.response_code_details = "cors_preflight";
  rq.reason = "CORS preflight answered by route " + std::string(router::routeOrigin(route));
  respond(c, 200, false);
  c.outcome.reply.headers = rq.cors.response_headers;
  return PhaseStatus::kRespond;
}

PhaseStatus injectFault(PhaseContext& c) {
  RequestState& rq = c.rq;
  const tr::Route& route = *rq.route;
  if (!route.fault) return PhaseStatus::kContinue;
  telemetry::AccessLogEntry& log = rq.record.log;
  upstream::FastRandom& random = c.ds.worker.random();
  const router::FaultDecision fault =
      router::decideFault(*route.fault, random.next(), random.next());
  if (fault.delay) {
    log.response_flags.set(ResponseFlag::kDelayInjected);
    c.outcome.delay = fault.delay;
  }
  if (!fault.abort_status && !fault.abort_grpc_status) return PhaseStatus::kContinue;
  log.response_flags.set(ResponseFlag::kFaultInjected);
  log.response_code_details = "fault_filter_abort";
  rq.reason = "fault injection abort (route " + std::string(router::routeOrigin(route)) + ")";
  if (fault.abort_grpc_status) {
    rq.reply_headers.emplace_back("grpc-status",
                                  std::string(grpcStatusNumber(*fault.abort_grpc_status)));
    respond(c, 200, false);
    c.outcome.reply.content_type = "application/grpc";
    return PhaseStatus::kRespond;
  }
  return respond(c, *fault.abort_status);
}

PhaseStatus runRouteAction(PhaseContext& c) {
  RequestState& rq = c.rq;
  const tr::Route& route = *rq.route;
  telemetry::AccessLogEntry& log = rq.record.log;
  if (const auto* redirect = std::get_if<tr::RedirectAction>(&route.action)) {
    rq.reply_headers.emplace_back("location", router::redirectLocation(route, *redirect, rq.view));
    log.response_code_details = "direct_response";
    rq.reason = "redirect configured by route " + std::string(router::routeOrigin(route));
    respond(c, redirect->code);
    c.outcome.reply.route_ops = &route.response_headers;
    return PhaseStatus::kRespond;
  }
  if (const auto* direct = std::get_if<tr::DirectResponseAction>(&route.action)) {
    log.response_code_details = "direct_response";
    rq.reason = "direct response configured by route " + std::string(router::routeOrigin(route));
    respond(c, direct->status, false);
    c.outcome.reply.body = direct->body;
    c.outcome.reply.route_ops = &route.response_headers;
    return PhaseStatus::kRespond;
  }
  c.outcome.forward = &std::get<tr::ForwardAction>(route.action);
  return PhaseStatus::kForward;
}

}  // namespace

const std::array<PhaseEntry, 7> kRequestPhases = {{
    {RequestPhase::kRouteSelection, selectRoute},
    {RequestPhase::kRequireTls, requireTls},
    {RequestPhase::kAuthentication, authenticateRequest},  // JWT; the mTLS peer is the connection's
    {RequestPhase::kAuthorization, authorizeRequest},
    {RequestPhase::kCors, applyCors},
    {RequestPhase::kFault, injectFault},
    {RequestPhase::kRouteAction, runRouteAction},
}};

std::string_view phaseName(RequestPhase phase) {
  switch (phase) {
    case RequestPhase::kRouteSelection:
      return "route_selection";
    case RequestPhase::kRequireTls:
      return "require_tls";
    case RequestPhase::kAuthentication:
      return "authentication";
    case RequestPhase::kAuthorization:
      return "authorization";
    case RequestPhase::kCors:
      return "cors";
    case RequestPhase::kFault:
      return "fault";
    case RequestPhase::kRouteAction:
      return "route_action";
  }
  return "unknown";
}

PhaseOutcome runRequestPhases(Downstream& ds, RequestState& rq, size_t first) {
  PhaseOutcome outcome;
  PhaseContext context{ds, rq, outcome};
  for (size_t i = first; i < kRequestPhases.size(); ++i) {
    const PhaseEntry& entry = kRequestPhases[i];
    if (!entry.run) continue;
    const PhaseStatus status = entry.run(context);
    if (status == PhaseStatus::kContinue) continue;
    outcome.decided_by = entry.phase;
    if (status == PhaseStatus::kWait) outcome.resume_at = i;
    break;
  }
  return outcome;
}

}  // namespace halyard::proxy::runtime
