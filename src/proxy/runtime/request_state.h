// Per-request state of the connection manager. One lives in each connection and is reset for
// every request, so its strings and vectors keep their capacity across requests.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/local_shared.h"
#include "proxy/http/h1_request_parser.h"
#include "proxy/http/request_view.h"
#include "proxy/router/router.h"
#include "proxy/runtime/body_reader.h"
#include "proxy/runtime/io_ops.h"
#include "proxy/runtime/request_id.h"
#include "proxy/runtime/request_record.h"
#include "proxy/runtime/worker_snapshot.h"
#include "telemetry/trace_context.h"

namespace halyard::proxy::runtime {

struct RequestState {
  // The snapshot the request started with: a reload never changes a request in flight.
  common::LocalShared<const WorkerSnapshot> snapshot;
  const ListenerRoutes* routes = nullptr;
  const http::RequestHead* head = nullptr;
  http::RequestView view;
  const translate::VirtualHost* virtual_host = nullptr;
  const translate::Route* route = nullptr;
  // Which of the rarely used groups below this request wrote (RequestAuthentication ran; a
  // CUSTOM ext_authz check ran): reset() clears a group only then, and the request path reads
  // one only then, so an ordinary request never touches their cache lines. (An HTTP/2 stream's
  // state is reused cold, after hundreds of other streams ran: every line touched is a miss.)
  bool authn_ran = false;
  bool ext_authz_ran = false;
  bool authn_done = false;
  bool ext_authz_checked = false;
  BodyReader body;             // the request body, as the client sends it
  bool sent_continue = false;  // "100 Continue" went to the client
  bool close = false;          // the connection closes after this response
  RequestId generated_id;
  std::string_view request_id;
  router::CorsResult cors;  // of a route with a corsPolicy, for the response
  std::string reason;       // x-halyard-reason of a local reply
  std::vector<std::pair<std::string, std::string>> reply_headers;  // Location, grpc-status, ...
  RequestRecord record;
  Clock::time_point start;
  uint64_t tunnel_bytes_received = 0;  // client bytes spliced after an upgrade
  std::string upstream_principal;      // backs record.upstream_principal (capacity kept)
  std::string transport_failure;       // backs the access log's upstream_transport_failure_reason
  std::string authz_details;           // backs response_code_details of an RBAC denial
  std::string normalized_path;         // backs view.path when normalization changed it
  // RequestAuthentication: the verified token (null: none), what it changes in the request sent
  // upstream (the token's header dropped unless forwardOriginalToken; outputPayloadToHeader and
  // outputClaimToHeaders set, replacing what the client sent under those names), and the
  // response_code_details of a rejection.
  std::shared_ptr<const authn::VerifiedJwt> jwt;
  std::string authn_drop_header;
  std::vector<std::pair<std::string, std::string>> authn_headers;
  std::string authn_details;

  // A request header the authentication phase replaces or removes upstream.
  bool authnRewrites(std::string_view name) const {
    if (!authn_ran || !jwt) return false;
    if (name == authn_drop_header) return true;
    for (const auto& h : authn_headers) {
      if (h.first == name) return true;
    }
    return false;
  }
  // CUSTOM AuthorizationPolicy (ext_authz): the external check ran and allowed; what it asked
  // to set on the upstream request (headersToUpstreamOnAllow / ok_response headers), and what
  // a denial answers with.
  std::vector<std::pair<std::string, std::string>> ext_authz_headers;
  std::vector<std::string> ext_authz_remove;  // ok_response headers_to_remove, lowercase
  std::vector<std::pair<std::string, std::string>> ext_authz_response_headers;  // for the client
  std::string ext_authz_body;
  std::string ext_authz_content_type;
  std::string remote_ip;          // remote.ip when X-Forwarded-For names the client (else empty)
  telemetry::TraceContext trace;  // this hop's span, on listeners with tracing

  bool http10() const { return head->version == http::HttpVersion::kHttp10; }
  bool isHead() const { return head->method == "HEAD"; }

  void reset() {
    snapshot.reset();
    routes = nullptr;
    head = nullptr;
    view = {};
    virtual_host = nullptr;
    route = nullptr;
    sent_continue = close = false;
    request_id = {};
    cors.is_preflight = cors.origin_allowed = cors.answer_locally = false;
    cors.response_headers.clear();
    reason.clear();
    reply_headers.clear();
    record = RequestRecord{};
    tunnel_bytes_received = 0;
    upstream_principal.clear();
    transport_failure.clear();
    authz_details.clear();
    normalized_path.clear();
    authn_done = ext_authz_checked = false;
    if (authn_ran) {
      authn_ran = false;
      jwt.reset();
      authn_drop_header.clear();
      authn_headers.clear();
      authn_details.clear();
    }
    if (ext_authz_ran) {
      ext_authz_ran = false;
      ext_authz_headers.clear();
      ext_authz_remove.clear();
      ext_authz_response_headers.clear();
      ext_authz_body.clear();
      ext_authz_content_type.clear();
    }
    remote_ip.clear();
    if (trace.active()) trace.reset();  // an inactive one holds nothing (TraceContext::begin)
  }
};

}  // namespace halyard::proxy::runtime
