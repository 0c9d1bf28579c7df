#include "proxy/runtime/ext_authz_client.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <asio/buffer.hpp>
#include <cctype>
#include <charconv>

#include "common/log.h"
#include "halyard/v1/ext_authz_lite.pb.h"
#include "proxy/http/h1_writer.h"
#include "proxy/net/socket_util.h"
#include "proxy/runtime/body_reader.h"
#include "proxy/runtime/downstream.h"
#include "proxy/runtime/request_state.h"
#include "proxy/runtime/worker.h"
#include "proxy/upstream/load_balancer.h"

namespace halyard::proxy::runtime {

namespace tr = halyard::translate;
namespace pb = halyard::v1lite;
using Result = ExtAuthzResult;

namespace {

// Answers larger than this are not read whole: a denial's body is for a person to read.
constexpr size_t kMaxAnswerBytes = 64 * 1024;
constexpr std::string_view kCheckPath = "/envoy.service.auth.v3.Authorization/Check";

Result error(std::string detail) {
  Result r;
  r.kind = Result::Kind::kError;
  r.detail = std::move(detail);
  return r;
}

bool headerMatches(const std::vector<tr::AuthzMatcher>& matchers, std::string_view name) {
  for (const auto& m : matchers) {
    switch (m.kind) {
      case tr::AuthzMatcher::Kind::kExact:
        if (name == m.value) return true;
        break;
      case tr::AuthzMatcher::Kind::kPrefix:
        if (name.starts_with(m.value)) return true;
        break;
      case tr::AuthzMatcher::Kind::kSuffix:
        if (name.ends_with(m.value)) return true;
        break;
      case tr::AuthzMatcher::Kind::kPresence:
        return true;
      default:
        break;
    }
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Headers of an answer that say how it is framed or routed, never passed on.
bool framingHeader(std::string_view name) {
  return name == "content-length" || name == "transfer-encoding" || name == "connection" ||
         name == "keep-alive" || name == "host" || name == ":authority" || name == "upgrade" ||
         name == "proxy-connection" || name == "te" || name == "trailer";
}

// Envoy's automatically allowed check-request headers, besides what the provider names.
bool alwaysSent(std::string_view name) {
  return name == "authorization";
}

// ---- HTTP ----------------------------------------------------------------------------------

std::string httpCheckHead(const tr::AuthzExtProvider& p, const ExtAuthzInput& in) {
  std::string out;
  std::string path = p.path_prefix;
  if (!path.empty() && path.back() == '/' && in.path.starts_with('/')) path.pop_back();
  path.append(in.path);
  http::appendRequestLine(out, in.method, path);
  http::appendHeader(out, "host", in.authority);
  for (const auto& h : in.headers) {
    if (h.name == "host" || framingHeader(h.name)) continue;
    if (!alwaysSent(h.name) && !headerMatches(p.include_request_headers, h.name)) continue;
    http::appendHeader(out, h.name, h.value);
  }
  for (const auto& [name, value] : p.include_additional_headers) {
    http::appendHeader(out, name, value);
  }
  http::appendHeader(out, "content-length", "0");
  http::appendHeadEnd(out);
  return out;
}

net::awaitable<Result> checkHttp(Worker& worker, upstream::ClusterHosts& hosts,
                                 upstream::UpstreamHost& host,
                                 const upstream::TransportSettings& transport,
                                 const tr::AuthzExtProvider& p, const ExtAuthzInput& in,
                                 Clock::time_point deadline) {
  std::unique_ptr<upstream::UpstreamConnection> c = worker.pool().takeIdle(host, transport);
  if (!c) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto connected = co_await worker.pool().connect(
        host,
        std::max(std::chrono::milliseconds(1), std::min(left, hosts.cluster().connect_timeout)),
        transport);
    if (!connected) co_return error("connect to " + host.name + ": " + connected.error().message);
    c = std::move(*connected);
  }
  c->countRequest();
  c->buffer().rewindTo(0);  // a reused connection: nothing of the last answer is left
  const std::string head = httpCheckHead(p, in);
  const IoResult written =
      co_await writeAll(c->transport(), asio::buffer(head), c->writeTimer(), deadline);
  if (!written.ok()) {
    co_return error(written.timed_out ? "no answer within the timeout"
                                      : "write to " + host.name + ": " + written.ec.message());
  }
  const std::string_view method = in.method == "HEAD" ? "HEAD" : "GET";
  c->parser().reset(method);
  while (true) {
    const http::ParseStatus st = c->parser().feed(c->buffer().fromStart());
    if (st == http::ParseStatus::kError) co_return error("the answer is not HTTP/1.1");
    if (st == http::ParseStatus::kHeadComplete) {
      if (!c->parser().head().interim) break;
      c->buffer().consume(c->parser().head().head_bytes);
      c->buffer().compact();
      c->parser().reset(method);
      continue;
    }
    if (c->buffer().writableSize() == 0) co_return error("the answer's head is too large");
    const IoResult r = co_await readSome(c->transport(), c->buffer(), c->readTimer(), deadline);
    if (r.timed_out) co_return error("no answer within the timeout");
    if (!r.ok()) co_return error("connection to " + host.name + " closed before an answer");
  }
  const http::ResponseHead& answer = c->parser().head();
  Result out;
  out.status = answer.status;
  const bool allow = answer.status >= 200 && answer.status < 300;
  const bool failed = answer.status >= 500;
  if (!failed) {
    for (const auto& h : answer.headers) {
      if (framingHeader(h.name)) continue;
      if (allow) {
        if (headerMatches(p.headers_to_upstream_on_allow, h.name)) {
          out.headers.emplace_back(std::string(h.name), std::string(h.value));
        }
        if (headerMatches(p.headers_to_downstream_on_allow, h.name)) {
          out.response_headers.emplace_back(std::string(h.name), std::string(h.value));
        }
      } else if (p.headers_to_downstream_on_deny.empty() ||
                 headerMatches(p.headers_to_downstream_on_deny, h.name) ||
                 h.name == "www-authenticate" || h.name == "location" || h.name == "content-type") {
        out.headers.emplace_back(std::string(h.name), std::string(h.value));
      }
    }
  }
  const bool keep_alive = answer.keep_alive && !answer.tunnel;
  c->buffer().consume(answer.head_bytes);
  BodyReader reader;
  reader.start(answer.framing, 0);
  bool whole = true;
  while (!reader.done()) {
    const BodyRead r = co_await reader.next(c->transport(), c->buffer(), c->readTimer(), deadline);
    if (r.error != BodyError::kNone) {
      whole = false;
      break;
    }
    if (out.body.size() + r.data.size() > kMaxAnswerBytes) {
      whole = false;
      break;
    }
    if (!allow && !failed) out.body.append(r.data);
  }
  if (whole && keep_alive && c->buffer().readableSize() == 0) {
    worker.pool().release(std::move(c));
  } else {
    net::closeQuietly(c->socket());
  }
  if (failed) {
    co_return error("the authorization service answered " + std::to_string(answer.status));
  }
  if (!whole && !allow) co_return error("the answer's body could not be read");
  out.kind = allow ? Result::Kind::kAllow : Result::Kind::kDeny;
  if (allow) out.body.clear();
  co_return out;
}

// ---- gRPC ----------------------------------------------------------------------------------

void setPeer(pb::ExtAuthzPeer* peer, std::string_view ip, uint16_t port,
             std::string_view principal) {
  auto* address = peer->mutable_address()->mutable_socket_address();
  address->set_address(std::string(ip));
  address->set_port_value(port);
  if (!principal.empty()) peer->set_principal(std::string(principal));
}

std::string checkRequest(const ExtAuthzInput& in) {
  pb::ExtAuthzCheckRequest request;
  auto* attributes = request.mutable_attributes();
  setPeer(attributes->mutable_source(), in.source_ip, in.source_port, in.peer_principal);
  setPeer(attributes->mutable_destination(), in.destination_ip, in.destination_port,
          in.own_principal);
  if (!in.sni.empty()) attributes->mutable_tls_session()->set_sni(std::string(in.sni));
  if (!in.method.empty()) {
    auto* h = attributes->mutable_request()->mutable_http();
    h->set_id(std::string(in.request_id));
    h->set_method(std::string(in.method));
    const size_t q = in.path.find('?');
    h->set_path(std::string(in.path));
    if (q != std::string_view::npos) h->set_query(std::string(in.path.substr(q + 1)));
    h->set_host(std::string(in.authority));
    h->set_scheme(std::string(in.scheme));
    h->set_protocol("HTTP/1.1");
    h->set_size(0);
    auto& headers = *h->mutable_headers();
    headers[":authority"] = std::string(in.authority);
    headers[":method"] = std::string(in.method);
    headers[":path"] = std::string(in.path);
    headers[":scheme"] = std::string(in.scheme);
    for (const auto& hv : in.headers) {
      if (hv.name == "host") continue;
      std::string& value = headers[std::string(hv.name)];
      // Repeated headers are joined, as Envoy joins them for the check.
      if (!value.empty()) value.append(",");
      value.append(hv.value);
    }
  }
  std::string message;
  request.SerializeToString(&message);
  std::string framed(5, '\0');
  const uint32_t n = static_cast<uint32_t>(message.size());
  framed[1] = static_cast<char>(n >> 24);
  framed[2] = static_cast<char>(n >> 16);
  framed[3] = static_cast<char>(n >> 8);
  framed[4] = static_cast<char>(n);
  framed += message;
  return framed;
}

// The one stream of a check: what nghttp2 hands back.
struct GrpcCall {
  std::string request;  // the framed CheckRequest
  size_t sent = 0;
  std::string response;  // DATA bytes
  int http_status = 0;
  std::string grpc_status;  // headers or trailers
  std::string grpc_message;
  bool closed = false;
  uint32_t reset_code = 0;
};

ssize_t readRequest(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                    nghttp2_data_source* source, void*) {
  auto* call = static_cast<GrpcCall*>(source->ptr);
  const size_t n = std::min(length, call->request.size() - call->sent);
  std::copy_n(call->request.data() + call->sent, n, buf);
  call->sent += n;
  if (call->sent == call->request.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int onHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* call = static_cast<GrpcCall*>(user);
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    std::from_chars(v.data(), v.data() + v.size(), call->http_status);
  } else if (n == "grpc-status") {
    call->grpc_status = v;
  } else if (n == "grpc-message") {
    call->grpc_message = v;
  }
  return 0;
}

int onData(nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t len, void* user) {
  auto* call = static_cast<GrpcCall*>(user);
  if (call->response.size() + len > kMaxAnswerBytes + 5) return NGHTTP2_ERR_CALLBACK_FAILURE;
  call->response.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int onClose(nghttp2_session*, int32_t, uint32_t error_code, void* user) {
  auto* call = static_cast<GrpcCall*>(user);
  call->closed = true;
  call->reset_code = error_code;
  return 0;
}

struct SessionDeleter {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};

nghttp2_nv header(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

Result fromCheckResponse(const GrpcCall& call) {
  if (call.response.size() < 5) return error("the Check answer has no message");
  if (call.response[0] != 0) return error("the Check answer is compressed, which is not supported");
  const auto* b = reinterpret_cast<const unsigned char*>(call.response.data());
  const size_t n = (size_t{b[1]} << 24) | (size_t{b[2]} << 16) | (size_t{b[3]} << 8) | b[4];
  if (call.response.size() < 5 + n) return error("the Check answer is cut short");
  pb::ExtAuthzCheckResponse response;
  if (!response.ParseFromArray(call.response.data() + 5, static_cast<int>(n))) {
    return error("the Check answer is not a CheckResponse");
  }
  Result out;
  auto headers = [](const auto& options, std::vector<std::pair<std::string, std::string>>& to) {
    for (const auto& o : options) {
      const std::string name = lower(o.header().key());
      if (name.empty() || framingHeader(name)) continue;
      to.emplace_back(name,
                      o.header().value().empty() ? o.header().raw_value() : o.header().value());
    }
  };
  if (response.status().code() == 0) {
    out.kind = Result::Kind::kAllow;
    if (response.has_ok_response()) {
      headers(response.ok_response().headers(), out.headers);
      headers(response.ok_response().response_headers_to_add(), out.response_headers);
      for (const auto& r : response.ok_response().headers_to_remove()) {
        out.remove.push_back(lower(r));
      }
    }
    return out;
  }
  out.kind = Result::Kind::kDeny;
  out.status = 403;
  if (response.has_denied_response()) {
    const auto& denied = response.denied_response();
    const int code = denied.status().code();
    if (code >= 100 && code <= 599) out.status = static_cast<uint16_t>(code);
    out.body = denied.body();
    headers(denied.headers(), out.headers);
  }
  return out;
}

net::awaitable<Result> checkGrpc(Worker& worker, upstream::ClusterHosts& hosts,
                                 upstream::UpstreamHost& host,
                                 const upstream::TransportSettings& transport,
                                 const tr::AuthzExtProvider& p, const ExtAuthzInput& in,
                                 Clock::time_point deadline) {
  // A connection of its own, closed after the check: the pool's connections speak HTTP/1.1.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  auto connected = co_await worker.pool().connect(
      host, std::max(std::chrono::milliseconds(1), std::min(left, hosts.cluster().connect_timeout)),
      transport);
  if (!connected) co_return error("connect to " + host.name + ": " + connected.error().message);
  std::unique_ptr<upstream::UpstreamConnection> c = std::move(*connected);
  struct Closer {
    upstream::UpstreamConnection* c;
    ~Closer() { net::closeQuietly(c->socket()); }
  } closer{c.get()};

  GrpcCall call;
  call.request = checkRequest(in);
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onData);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onClose);
  nghttp2_session* raw = nullptr;
  const int made = nghttp2_session_client_new(&raw, callbacks, &call);
  nghttp2_session_callbacks_del(callbacks);
  if (made != 0) co_return error("no HTTP/2 session: " + std::string(nghttp2_strerror(made)));
  std::unique_ptr<nghttp2_session, SessionDeleter> session(raw);
  nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, nullptr, 0);
  const std::string authority = p.service.substr(p.service.find('/') + 1);
  // gRPC allows at most 8 digits: long timeouts are said in seconds.
  const int64_t ms = std::max<int64_t>(1, left.count());
  const std::string timeout =
      ms < 100'000'000 ? std::to_string(ms) + "m" : std::to_string(ms / 1000) + "S";
  const std::array<nghttp2_nv, 7> nva = {header(":method", "POST"),
                                         header(":scheme", transport.tls ? "https" : "http"),
                                         header(":path", kCheckPath),
                                         header(":authority", authority),
                                         header("content-type", "application/grpc"),
                                         header("te", "trailers"),
                                         header("grpc-timeout", timeout)};
  nghttp2_data_provider provider;
  provider.source.ptr = &call;
  provider.read_callback = readRequest;
  if (nghttp2_submit_request(raw, nullptr, nva.data(), nva.size(), &provider, nullptr) < 0) {
    co_return error("the Check request could not be submitted");
  }
  std::string out;
  while (!call.closed) {
    out.clear();
    while (true) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(raw, &data);
      if (n < 0) co_return error("HTTP/2: " + std::string(nghttp2_strerror(static_cast<int>(n))));
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (!out.empty()) {
      const IoResult w =
          co_await writeAll(c->transport(), asio::buffer(out), c->writeTimer(), deadline);
      if (w.timed_out) co_return error("no answer within the timeout");
      if (!w.ok()) co_return error("write to " + host.name + ": " + w.ec.message());
    }
    if (call.closed) break;
    c->buffer().rewindTo(0);
    const IoResult r = co_await readSome(c->transport(), c->buffer(), c->readTimer(), deadline);
    if (r.timed_out) co_return error("no answer within the timeout");
    if (!r.ok()) co_return error("connection to " + host.name + " closed before an answer");
    const auto bytes = c->buffer().readableView();
    const ssize_t used =
        nghttp2_session_mem_recv(raw, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (used < 0) {
      co_return error("HTTP/2: " + std::string(nghttp2_strerror(static_cast<int>(used))));
    }
    c->buffer().consume(bytes.size());
  }
  if (call.http_status != 200) {
    co_return error("the Check call answered HTTP status " + std::to_string(call.http_status));
  }
  if (call.grpc_status != "0") {
    co_return error("the Check call failed with gRPC status " +
                    (call.grpc_status.empty() ? std::string("(none)") : call.grpc_status) +
                    (call.grpc_message.empty() ? "" : ": " + call.grpc_message));
  }
  co_return fromCheckResponse(call);
}

}  // namespace

net::awaitable<ExtAuthzResult> checkExternal(Worker& worker,
                                             common::LocalShared<const WorkerSnapshot> snapshot,
                                             const tr::AuthzExtProvider& p,
                                             const ExtAuthzInput& in) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(p.timeout_ms);
  upstream::ClusterHosts* hosts = snapshot->cluster(p.cluster);
  if (!hosts) {
    co_return error("its cluster " + p.cluster + " is unknown (no Service or ServiceEntry " +
                    p.service + " with port " + std::to_string(p.port) + ")");
  }
  co_await hosts->ensureResolved();
  upstream::UpstreamHost* host = upstream::pickHost(*hosts, worker.random(), {});
  if (!host) co_return error("no healthy endpoint in cluster " + p.cluster);
  const auto transport = hosts->transportFor(hosts->endpoint(*host), hosts->cluster().service_host);
  if (!transport) {
    co_return error("no TLS context for cluster " + p.cluster + ": " +
                    std::string(transport.error()));
  }
  if (p.protocol == tr::AuthzExtProvider::Protocol::kGrpc) {
    co_return co_await checkGrpc(worker, *hosts, *host, *transport, p, in, deadline);
  }
  if (in.method.empty()) co_return error("an HTTP authorization service cannot check TCP");
  co_return co_await checkHttp(worker, *hosts, *host, *transport, p, in, deadline);
}

net::awaitable<PhaseOutcome> awaitExternalAuthorization(Downstream& ds, RequestState& rq,
                                                        const PhaseOutcome& waiting) {
  const tr::AuthzPolicy& policy = *waiting.ext_authz;
  const tr::AuthzExtProvider& provider = *policy.ext_provider;
  ExtAuthzInput in;
  in.method = rq.head->method;
  in.path = rq.view.path;
  in.authority = rq.view.authority;
  in.scheme = rq.view.scheme;
  in.request_id = rq.request_id;
  in.headers = rq.view.headers;
  in.source_ip = ds.remote_ip;
  const size_t colon = ds.remote_endpoint.rfind(':');
  if (colon != std::string::npos) {
    const std::string_view port = std::string_view(ds.remote_endpoint).substr(colon + 1);
    std::from_chars(port.data(), port.data() + port.size(), in.source_port);
  }
  const size_t local_colon = ds.local_endpoint.rfind(':');
  in.destination_ip = std::string_view(ds.local_endpoint).substr(0, local_colon);
  if (local_colon != std::string::npos) {
    const std::string_view port = std::string_view(ds.local_endpoint).substr(local_colon + 1);
    std::from_chars(port.data(), port.data() + port.size(), in.destination_port);
  }
  in.peer_principal = ds.peer_principal;
  in.own_principal = ds.own_principal;
  in.sni = ds.transport.sni();

  rq.ext_authz_ran = true;
  ExtAuthzResult r = co_await checkExternal(ds.worker, rq.snapshot, provider, in);
  telemetry::AccessLogEntry& log = rq.record.log;
  if (r.kind == ExtAuthzResult::Kind::kError && provider.fail_open) {
    HLOG_DEBUG("ext_authz provider {} of {} failed ({}); failOpen allows {} {}", provider.name,
               policy.name, r.detail, in.method, in.path);
    r.kind = ExtAuthzResult::Kind::kAllow;
    r.headers.clear();
    r.remove.clear();
    r.response_headers.clear();
  }
  if (r.kind == ExtAuthzResult::Kind::kAllow) {
    rq.ext_authz_checked = true;
    rq.ext_authz_headers = std::move(r.headers);
    rq.ext_authz_remove = std::move(r.remove);
    rq.ext_authz_response_headers = std::move(r.response_headers);
    co_return runRequestPhases(ds, rq, waiting.resume_at);
  }
  PhaseOutcome out;
  out.decided_by = RequestPhase::kAuthorization;
  log.response_flags.set(telemetry::ResponseFlag::kUnauthorizedExternalService);
  if (r.kind == ExtAuthzResult::Kind::kError) {
    log.response_code_details = "ext_authz_error";
    rq.reason = "AuthorizationPolicy " + policy.name + ": its CUSTOM provider \"" + provider.name +
                "\" could not decide (" + r.detail + ")";
    out.reply = LocalReply{.status = provider.status_on_error,
                           .reason = rq.reason,
                           .reason_body = false,
                           .headers = rq.reply_headers};
    asGrpcReply(rq, out.reply);
    co_return out;
  }
  log.response_code_details = "ext_authz_denied";
  rq.reason = "denied by AuthorizationPolicy " + policy.name + ": its CUSTOM provider \"" +
              provider.name + "\" answered " + std::to_string(r.status);
  for (auto& h : r.headers) {
    if (h.first == "content-type") {
      rq.ext_authz_content_type = std::move(h.second);
    } else {
      rq.reply_headers.push_back(std::move(h));
    }
  }
  rq.ext_authz_body = std::move(r.body);
  const std::string_view content_type = rq.ext_authz_content_type.empty()
                                            ? std::string_view("text/plain")
                                            : rq.ext_authz_content_type;
  out.reply = LocalReply{.status = r.status,
                         .reason = rq.reason,
                         .reason_body = false,
                         .body = rq.ext_authz_body,
                         .content_type = content_type,
                         .headers = rq.reply_headers};
  asGrpcReply(rq, out.reply);
  co_return out;
}

}  // namespace halyard::proxy::runtime
