#include "proxy/http/h2_server_session.h"

#include <string>

#include "proxy/http/h2_session_io.h"

namespace halyard::proxy::http {

namespace {

H2SessionCore::Options coreOptions(const H2Settings& settings) {
  H2SessionCore::Options o;
  o.max_concurrent_streams = settings.max_concurrent_streams;
  o.initial_window = settings.initial_window;
  o.connection_window = settings.connection_window;
  o.max_header_list = settings.max_header_list;
  // Extended CONNECT (RFC 8441): WebSocket over HTTP/2.
  o.connect_protocol = true;
  return o;
}

}  // namespace

H2ServerSession::H2ServerSession(Handler& handler, const H2Settings& settings)
    : H2SessionCore(Role::kServer, coreOptions(settings)), handler_(handler) {}

H2ServerSession::~H2ServerSession() = default;

// The request's pseudo-header fields as RFC 9113 section 8.3.1 and RFC 8441 require them.
uint32_t H2ServerSession::onStreamHead(Stream& s, const H2Pseudo& p,
                                       std::span<const HpackField> fields, bool end_stream) {
  if ((p.seen & kH2PseudoMethod) == 0 || p.method.empty()) return kH2ProtocolError;
  const bool connect = p.method == "CONNECT";
  constexpr uint8_t kFull = kH2PseudoScheme | kH2PseudoPath | kH2PseudoAuthority;
  if ((p.seen & kH2PseudoProtocol) != 0) {
    if (!connect || (p.seen & kFull) != kFull) return kH2ProtocolError;
  } else if (connect) {
    if ((p.seen & kH2PseudoAuthority) == 0 || (p.seen & (kH2PseudoScheme | kH2PseudoPath)) != 0) {
      return kH2ProtocolError;
    }
  } else if ((p.seen & (kH2PseudoScheme | kH2PseudoPath)) != (kH2PseudoScheme | kH2PseudoPath)) {
    return kH2ProtocolError;
  }
  if ((p.seen & kH2PseudoPath) != 0) {
    if (p.path.empty()) return kH2ProtocolError;
    if (p.path[0] != '/') {
      const bool asterisk = p.path == "*" && p.method == "OPTIONS";
      if (!asterisk && (p.scheme == "http" || p.scheme == "https")) return kH2ProtocolError;
    }
  }
  H2RequestHead head;
  head.method = p.method;
  head.scheme = p.scheme;
  head.authority = p.authority;
  head.path = p.path;
  head.protocol = p.protocol;
  head.headers.reserve(fields.size() < kTypicalFields ? kTypicalFields : fields.size());
  for (const HpackField& f : fields) head.headers.emplace_back(f.name, f.value);
  handler_.onRequest(s.id, std::move(head), end_stream);
  return 0;
}

uint32_t H2ServerSession::onReplyHead(Stream&, const H2Pseudo&, std::span<const HpackField>, bool,
                                      bool&) {
  return kH2ProtocolError;  // every stream here was opened by the client, with its head
}

void H2ServerSession::onTrailers(Stream& s, std::span<const HpackField> fields) {
  if (fields.empty()) return;
  Fields trailers;
  trailers.reserve(fields.size());
  for (const HpackField& f : fields) trailers.emplace_back(f.name, f.value);
  handler_.onRequestTrailers(s.id, std::move(trailers));
}

void H2ServerSession::onData(Stream& s, std::span<const uint8_t> data) {
  handler_.onRequestData(s.id, data);
}

void H2ServerSession::onRemoteEnd(Stream& s) {
  handler_.onRequestEnd(s.id);
}

void H2ServerSession::onClose(Stream& s, uint32_t error_code) {
  handler_.onStreamClose(s.id, error_code);
}

long H2ServerSession::readBody(Stream& s, uint8_t* out, size_t max, bool& end) {
  return handler_.readBody(s.id, out, max, end);
}

const Fields* H2ServerSession::bodyTrailers(Stream& s) {
  return handler_.trailers(s.id);
}

std::string_view H2ServerSession::lowercaseName(std::string_view name) {
  bool upper = false;
  for (char c : name) upper = upper || (c >= 'A' && c <= 'Z');
  if (!upper) return name;
  std::string& lower = lowered_.emplace_back(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

bool H2ServerSession::respond(int32_t stream_id, uint16_t status, const Fields& headers, bool body,
                              FieldStorage storage) {
  head_scratch_.clear();
  lowered_.clear();
  lowered_.reserve(headers.size());  // views into it stay valid while it fills
  head_scratch_.push_back({});       // :status, filled in by submitResponse
  const bool kept = storage == FieldStorage::kKeptUntilStreamClose;
  for (const auto& [name, value] : headers) {
    head_scratch_.push_back({kept ? std::string_view(name) : lowercaseName(name), value});
  }
  return submitResponse(stream_id, status, body);
}

bool H2ServerSession::respond(int32_t stream_id, uint16_t status, const FieldBlock& headers,
                              bool body, FieldStorage storage) {
  head_scratch_.clear();
  lowered_.clear();
  lowered_.reserve(headers.size());
  head_scratch_.push_back({});
  const bool kept = storage == FieldStorage::kKeptUntilStreamClose;
  for (size_t i = 0; i < headers.size(); ++i) {
    head_scratch_.push_back(
        {kept ? headers.name(i) : lowercaseName(headers.name(i)), headers.value(i)});
  }
  return submitResponse(stream_id, status, body);
}

bool H2ServerSession::submitResponse(int32_t stream_id, uint16_t status, bool body) {
  Stream* s = find(stream_id);
  if (s == nullptr || s->closing || s->head_sent) return false;
  std::string code;
  std::string_view status_text = h2StatusText(status);
  if (status_text.empty()) {
    code = std::to_string(status);
    status_text = code;
  }
  head_scratch_[0] = {":status", status_text};
  sendHead(*s, head_scratch_, !body);
  if (body) startBody(*s);
  return true;
}

bool H2ServerSession::upgrade(std::string_view settings_payload, bool /*head_request*/) {
  return applyUpgrade(settings_payload, /*peer_opened=*/true);
}

}  // namespace halyard::proxy::http
