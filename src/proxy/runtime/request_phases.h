// The request phases, in the order the connection manager runs them for every request, whatever
// the HTTP version (Istio's sidecar and gateway filter order, as Envoy runs it):
//
//   1. kRouteSelection   virtual host and route for the authority and path     (404 NR)
//   2. kRequireTls       Gateway tls.httpsRedirect on a plaintext listener      (301)
//   3. kAuthentication   JWT (RequestAuthentication): a present token must verify   (401/403)
//                        (on listeners whose routes match on JWT claims it runs before route
//                        selection, which needs the claims); the peer's mTLS identity is the
//                        connection's, from its handshake
//   4. kAuthorization    CUSTOM (an external authorizer: waits), then DENY / ALLOW
//                        (AuthorizationPolicy)                                 (403 RBAC)
//   5. kCors             the route's corsPolicy: a preflight is answered here   (200)
//   6. kFault            the route's fault: a delay (waits), an abort           (its status)
//   7. kRouteAction      redirect, direct response, or forward to the upstream
//
// and after the upstream answered, the response phases: header operations (route, then
// destination), CORS response headers, then telemetry (metrics and the access log).
//
// Each phase reads what translate compiled into the snapshot for the listener and the route
// (a phase whose route has nothing for it costs one pointer test) and ends in one of three
// ways: continue to the next phase, respond locally (every local answer then goes through
// sendLocalReply, the one writer that knows the protocol), or forward. A phase may also ask to
// wait before the outcome takes effect (a fault delay today; a JWKS fetch or an external
// authorizer will wait the same way). The phases do no I/O themselves: they are plain
// functions, and the connection manager awaits what they ask for.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/authz/authorizer.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/local_reply.h"
#include "proxy/runtime/request_state.h"

namespace halyard::proxy::runtime {

enum class RequestPhase : uint8_t {
  kRouteSelection,
  kRequireTls,
  kAuthentication,
  kAuthorization,
  kCors,
  kFault,
  kRouteAction,
};

std::string_view phaseName(RequestPhase phase);

// What the phases decided for one request.
struct PhaseOutcome {
  const translate::ForwardAction* forward = nullptr;  // set: forward; null: answer with `reply`
  LocalReply reply;
  RequestPhase decided_by = RequestPhase::kRouteAction;
  std::optional<translate::Millis> delay;  // wait this long first (fault injection)
  // A CUSTOM AuthorizationPolicy matched: its external authorizer is asked first (a wait the
  // connection manager performs, runtime/ext_authz_client.h); when it allows, the phases run
  // again from `resume_at` (the authorization phase, which then decides DENY / ALLOW).
  const translate::AuthzPolicy* ext_authz = nullptr;
  size_t resume_at = 0;
};

// Everything a phase may read and write. Local replies keep their strings in `rq` (reason,
// reply_headers), so the outcome stays small.
struct PhaseContext {
  Downstream& ds;
  RequestState& rq;  // rq.routes: the listener's route table (null: none)
  PhaseOutcome& outcome;
};

// kWait: stop here, the outcome names what to wait for, then run the phases again from the
// same phase.
enum class PhaseStatus : uint8_t { kContinue, kRespond, kForward, kWait };

using PhaseFunction = PhaseStatus (*)(PhaseContext&);

struct PhaseEntry {
  RequestPhase phase;
  PhaseFunction run;  // null: a slot no configuration fills yet
};

// The order above, as a table: the connection manager walks it until a phase responds or
// forwards.
extern const std::array<PhaseEntry, 7> kRequestPhases;

// The dry-run (istio.io/dry-run) policies of a decision: each match logged (info), the shadow
// verdicts counted (WorkerTelemetry::rbacShadow). `tcp`: a TCP connection, not a request.
void reportDryRun(Downstream& ds, const authz::AuthzDecision& d, std::string_view method,
                  std::string_view path, bool tcp);

// A gRPC request (content-type application/grpc...) gets its local reply as gRPC does: status
// 200 with grpc-status (the HTTP status mapped as Envoy maps it: 403 PERMISSION_DENIED, 401
// UNAUTHENTICATED, 503 UNAVAILABLE, ...) and grpc-message (the body). False, and `reply`
// unchanged, for other requests.
bool asGrpcReply(RequestState& rq, LocalReply& reply);

// remote.ip of a request on `listener`: from X-Forwarded-For as Envoy reads it with
// xff_num_trusted_hops, else `peer` (the connection's address).
std::string_view remoteAddress(const translate::Listener& listener, const http::RequestView& view,
                               std::string_view peer);

// Runs the phases in order for the request in `rq`, from the phase at index `first`.
PhaseOutcome runRequestPhases(Downstream& ds, RequestState& rq, size_t first = 0);

}  // namespace halyard::proxy::runtime
