#include "proxy/http/h2_client_session.h"

#include <algorithm>
#include <charconv>

#include "proxy/http/h2_session_io.h"

namespace halyard::proxy::http {

namespace {

H2SessionCore::Options coreOptions() {
  H2SessionCore::Options o;
  o.initial_window = 64 * 1024 - 1;
  o.connection_window = 1024 * 1024;
  return o;
}

}  // namespace

H2ClientSession::H2ClientSession(Handler& handler)
    : H2SessionCore(Role::kClient, coreOptions()), handler_(handler) {}

H2ClientSession::~H2ClientSession() = default;

int32_t H2ClientSession::request(const Fields& fields, bool body) {
  head_scratch_.clear();
  lowered_.clear();
  lowered_.reserve(fields.size());  // views into it stay valid while it fills
  bool head_request = false;
  for (const auto& [name, value] : fields) {
    std::string_view n = name;
    if (std::any_of(n.begin(), n.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      std::string& lower = lowered_.emplace_back(name);
      for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      n = lower;
    }
    head_request = head_request || (n == ":method" && value == "HEAD");
    head_scratch_.push_back({n, value});
  }
  return submit(body, head_request);
}

int32_t H2ClientSession::request(const FieldBlock& fields, std::string_view scheme, bool body) {
  head_scratch_.clear();
  head_scratch_.push_back({":scheme", scheme});
  bool head_request = false;
  for (size_t i = 0; i < fields.size(); ++i) {
    head_request = head_request || (fields.name(i) == ":method" && fields.value(i) == "HEAD");
    head_scratch_.push_back({fields.name(i), fields.value(i)});
  }
  return submit(body, head_request);
}

int32_t H2ClientSession::submit(bool body, bool head_request) {
  Stream* s = openLocalStream();
  if (s == nullptr) return -1;
  Response* r;
  if (spare_.empty()) {
    responses_.push_back(std::make_unique<Response>());
    r = responses_.back().get();
    r->headers.reserve(kTypicalFieldBytes, kTypicalFields);
  } else {
    r = spare_.back();
    spare_.pop_back();
  }
  r->status = 0;
  r->headers.clear();
  r->trailers.clear();
  s->user = r;
  // A response to HEAD has no body, whatever its content-length says.
  s->no_body = head_request;
  sendHead(*s, head_scratch_, !body);
  if (body) startBody(*s);
  return s->id;
}

uint32_t H2ClientSession::onStreamHead(Stream&, const H2Pseudo&, std::span<const HpackField>,
                                       bool) {
  return kH2ProtocolError;  // never called: the server opens no streams
}

uint32_t H2ClientSession::onReplyHead(Stream& s, const H2Pseudo& pseudo,
                                      std::span<const HpackField> fields, bool end_stream,
                                      bool& final_head) {
  const std::string_view v = pseudo.status;
  unsigned status = 0;
  if ((pseudo.seen & kH2PseudoStatus) == 0 || v.size() != 3 ||
      std::from_chars(v.data(), v.data() + 3, status).ptr != v.data() + 3 || status < 100) {
    return kH2ProtocolError;
  }
  if (status < 200) {
    // Interim: dropped (101 has no place in HTTP/2).
    if (status == 101) return kH2ProtocolError;
    s.content_length = -1;
    final_head = false;
    return 0;
  }
  final_head = true;
  if (status == 204 || status == 304) s.no_body = true;
  Response& r = response(s);
  r.status = static_cast<uint16_t>(status);
  r.headers.clear();
  for (const HpackField& f : fields) r.headers.add(f.name, f.value);
  handler_.onResponseHead(s.id, r.status, r.headers, end_stream);
  return 0;
}

void H2ClientSession::onTrailers(Stream& s, std::span<const HpackField> fields) {
  Fields& trailers = response(s).trailers;
  trailers.clear();
  trailers.reserve(fields.size());
  for (const HpackField& f : fields) trailers.emplace_back(f.name, f.value);
}

void H2ClientSession::onData(Stream& s, std::span<const uint8_t> data) {
  handler_.onResponseData(s.id, data);
}

void H2ClientSession::onRemoteEnd(Stream& s) {
  Response& r = response(s);
  handler_.onResponseEnd(s.id, std::move(r.trailers));
  r.trailers.clear();
}

void H2ClientSession::onClose(Stream& s, uint32_t error_code) {
  Response* r = static_cast<Response*>(s.user);
  handler_.onStreamClose(s.id, error_code);
  if (r == nullptr) return;
  if (spare_.size() < kSpareResponses) {
    spare_.push_back(r);
    return;
  }
  auto it = std::find_if(responses_.begin(), responses_.end(),
                         [&](const std::unique_ptr<Response>& p) { return p.get() == r; });
  *it = std::move(responses_.back());
  responses_.pop_back();
}

long H2ClientSession::readBody(Stream& s, uint8_t* out, size_t max, bool& end) {
  return handler_.readBody(s.id, out, max, end);
}

const Fields* H2ClientSession::bodyTrailers(Stream& s) {
  return handler_.requestTrailers(s.id);
}

}  // namespace halyard::proxy::http
