// The external authorizer of a CUSTOM AuthorizationPolicy (MeshConfig extensionProviders
// envoyExtAuthzHttp / envoyExtAuthzGrpc), spoken as Envoy's ext_authz filter speaks it:
//
// - HTTP: the original request's method, the provider's pathPrefix + the original path (query
//   included), Host, Authorization, Content-Length 0, the headers includeRequestHeadersInCheck
//   names and includeAdditionalHeadersInCheck adds. A 2xx answer allows (the headers
//   headersToUpstreamOnAllow names are set on the upstream request); a 5xx answer or no answer
//   within the timeout is an error; any other status denies with that status, body and the
//   headers headersToDownstreamOnDeny names (all but framing ones when it names none).
// - gRPC: envoy.service.auth.v3.Authorization/Check over HTTP/2 (nghttp2), a CheckRequest with
//   the source and destination peers and the HTTP request's attributes; status OK allows (the
//   ok_response headers are set upstream), another status denies with the denied_response
//   (403 when it gives no status); a transport failure, a gRPC error status in the trailers or
//   the timeout is an error.
//
// An error allows when failOpen is set, else answers statusOnError (403 by default) with no
// body. A denial or an error is flagged UAEX in the access log, as Envoy does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/local_shared.h"
#include "proxy/http/request_view.h"
#include "proxy/net/awaitable.h"
#include "proxy/runtime/request_phases.h"
#include "translate/authz.h"

namespace halyard::proxy::runtime {

class Worker;
class WorkerSnapshot;

// What the check says of the request or connection.
struct ExtAuthzInput {
  // HTTP (method empty: a TCP connection, gRPC providers only).
  std::string_view method;
  std::string_view path;  // normalized, query included
  std::string_view authority;
  std::string_view scheme;
  std::string_view request_id;
  std::span<const http::HeaderView> headers;
  // The connection.
  std::string_view source_ip;
  uint16_t source_port = 0;
  std::string_view destination_ip;
  uint16_t destination_port = 0;
  std::string_view peer_principal;  // "spiffe://..."; empty: plaintext
  std::string_view own_principal;
  std::string_view sni;
};

struct ExtAuthzResult {
  enum class Kind : uint8_t { kAllow, kDeny, kError };
  Kind kind = Kind::kError;
  uint16_t status = 403;  // kDeny: the authorizer's
  std::string body;       // kDeny
  // kAllow: set on the upstream request (replacing the client's); kDeny: sent to the client.
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> remove;  // kAllow: upstream headers to remove (gRPC)
  // kAllow: added to the client's response (headersToDownstreamOnAllow; gRPC
  // response_headers_to_add).
  std::vector<std::pair<std::string, std::string>> response_headers;
  std::string detail;  // kError: what failed, for the reason and the log
};

// One check against `provider`'s cluster in `snapshot`, within its timeout.
net::awaitable<ExtAuthzResult> checkExternal(Worker& worker,
                                             common::LocalShared<const WorkerSnapshot> snapshot,
                                             const translate::AuthzExtProvider& provider,
                                             const ExtAuthzInput& input);

// The connection manager's wait for a PhaseOutcome with ext_authz set: runs the check for the
// request in `rq` and returns the outcome to act on: the phases run again from the
// authorization phase when it allowed, a local reply when it denied or failed closed.
net::awaitable<PhaseOutcome> awaitExternalAuthorization(Downstream& ds, RequestState& rq,
                                                        const PhaseOutcome& waiting);

}  // namespace halyard::proxy::runtime
