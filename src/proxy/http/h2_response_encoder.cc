#include "proxy/http/h2_response_encoder.h"

#include <array>

#include "proxy/http/h2_session_io.h"

namespace halyard::proxy::http {

bool isConnectionSpecific(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
         n == "transfer-encoding" || n == "upgrade";
}

std::string_view grpcStatusForHttp(uint16_t status) {
  switch (status) {
    case 400:
      return "13";
    case 401:
      return "16";
    case 403:
      return "7";
    case 404:
      return "12";
    case 429:
    case 502:
    case 503:
    case 504:
      return "14";
    default:
      return "2";
  }
}

std::string percentEncodeGrpcMessage(std::string_view message) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
  std::string out;
  out.reserve(message.size());
  for (const char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

void H2ResponseEncoder::beginHead(uint16_t status, std::string_view, std::string&) {
  // The head that went out is the stream's; its fields stay as they are while HTTP/2 holds them
  // (the session sends them without a copy), and a second head has nowhere to go.
  if (head_sent_) {
    ignored_ = true;
    return;
  }
  // Interim responses (100 Continue, 103) are not relayed over HTTP/2: the client did not ask
  // for a 100 (Expect is dropped) and nothing here needs early hints.
  interim_ = status < 200 && !(tunnel_ && status == 101);
  if (interim_) return;
  status_ = status == 101 ? 200 : status;
  headers_.clear();
  headers_.reserve(kTypicalFieldBytes, kTypicalFields);
  reason_.clear();
}

void H2ResponseEncoder::header(std::string_view name, std::string_view value, std::string&) {
  if (interim_ || ignored_ || isConnectionSpecific(name)) return;
  // HTTP/2's WebSocket handshake has no key to answer (RFC 8441 §5).
  if (tunnel_ && name == "sec-websocket-accept") return;
  if (name == "x-halyard-reason") reason_.assign(value);
  if (name == "grpc-status") grpc_status_.assign(value);
  headers_.add(name, value);
}

void H2ResponseEncoder::endHead(const ResponseFraming& framing, std::string&) {
  if (ignored_) return;
  if (interim_) {
    interim_ = false;
    return;
  }
  bool body = !head_request_ && status_ != 204 && status_ != 304 &&
              !(framing.body == BodyKind::kNone && framing.upgrade.empty()) &&
              !(framing.body == BodyKind::kContentLength && framing.content_length == 0);
  if (framing.body == BodyKind::kContentLength && body) {
    headers_.add("content-length", std::to_string(framing.content_length));
  } else if (!framing.described_length.empty()) {
    headers_.add("content-length", framing.described_length);
  }
  if (grpc_ && local_) {
    // Trailers-only: the status travels in the one HEADERS frame and the text body is dropped.
    FieldBlock fields;
    fields.add("content-type", "application/grpc");
    std::string grpc_status = grpc_status_;
    std::string message;
    for (size_t i = 0; i < headers_.size(); ++i) {
      const std::string_view n = headers_.name(i);
      if (n == "content-type" || n == "content-length" || n == "grpc-status") continue;
      if (n == "grpc-message") {
        message = headers_.value(i);
        continue;
      }
      fields.add(n, headers_.value(i));
    }
    if (grpc_status.empty()) grpc_status = grpcStatusForHttp(status_);
    if (message.empty()) message = percentEncodeGrpcMessage(reason_);
    fields.add("grpc-status", grpc_status);
    if (!message.empty()) fields.add("grpc-message", message);
    headers_ = std::move(fields);
    grpc_status_ = grpc_status;
    status_ = 200;
    body = false;
  }
  head_sent_ = true;
  if (sink_) sink_->onResponseHead(*this, body);
}

void H2ResponseEncoder::trailer(std::string_view name, std::string_view value) {
  if (isConnectionSpecific(name)) return;
  if (name == "grpc-status") grpc_status_.assign(value);
  trailers_.emplace_back(name, value);
}

}  // namespace halyard::proxy::http
