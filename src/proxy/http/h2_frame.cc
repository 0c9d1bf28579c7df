#include "proxy/http/h2_frame.h"

namespace halyard::proxy::http {

namespace {

void put32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

}  // namespace

std::string_view h2ErrorName(uint32_t code) {
  switch (code) {
    case kH2NoError:
      return "NO_ERROR";
    case kH2ProtocolError:
      return "PROTOCOL_ERROR";
    case kH2InternalError:
      return "INTERNAL_ERROR";
    case kH2FlowControlError:
      return "FLOW_CONTROL_ERROR";
    case kH2SettingsTimeout:
      return "SETTINGS_TIMEOUT";
    case kH2StreamClosed:
      return "STREAM_CLOSED";
    case kH2FrameSizeError:
      return "FRAME_SIZE_ERROR";
    case kH2RefusedStream:
      return "REFUSED_STREAM";
    case kH2Cancel:
      return "CANCEL";
    case kH2CompressionError:
      return "COMPRESSION_ERROR";
    case kH2ConnectError:
      return "CONNECT_ERROR";
    case kH2EnhanceYourCalm:
      return "ENHANCE_YOUR_CALM";
    case kH2InadequateSecurity:
      return "INADEQUATE_SECURITY";
    case kH2Http11Required:
      return "HTTP_1_1_REQUIRED";
    default:
      return "unknown error code";
  }
}

void h2AppendFrameHeader(std::string& out, uint32_t length, H2FrameType type, uint8_t flags,
                         int32_t stream_id) {
  char h[kH2FrameHeaderSize];
  h2PutFrameHeader(h, length, type, flags, stream_id);
  out.append(h, kH2FrameHeaderSize);
}

void h2AppendSettings(std::string& out, const H2Setting* settings, size_t count) {
  h2AppendFrameHeader(out, static_cast<uint32_t>(6 * count), H2FrameType::kSettings, 0, 0);
  for (size_t i = 0; i < count; ++i) {
    const char id[2] = {static_cast<char>(settings[i].id >> 8), static_cast<char>(settings[i].id)};
    out.append(id, 2);
    put32(out, settings[i].value);
  }
}

void h2AppendSettingsAck(std::string& out) {
  h2AppendFrameHeader(out, 0, H2FrameType::kSettings, kH2FlagAck, 0);
}

void h2AppendPing(std::string& out, const uint8_t* opaque, bool ack) {
  h2AppendFrameHeader(out, 8, H2FrameType::kPing, ack ? kH2FlagAck : 0, 0);
  out.append(reinterpret_cast<const char*>(opaque), 8);
}

void h2AppendRstStream(std::string& out, int32_t stream_id, uint32_t error_code) {
  h2AppendFrameHeader(out, 4, H2FrameType::kRstStream, 0, stream_id);
  put32(out, error_code);
}

void h2AppendWindowUpdate(std::string& out, int32_t stream_id, uint32_t increment) {
  h2AppendFrameHeader(out, 4, H2FrameType::kWindowUpdate, 0, stream_id);
  put32(out, increment & 0x7fffffffu);
}

void h2AppendGoAway(std::string& out, int32_t last_stream_id, uint32_t error_code,
                    std::string_view debug) {
  h2AppendFrameHeader(out, static_cast<uint32_t>(8 + debug.size()), H2FrameType::kGoAway, 0, 0);
  put32(out, static_cast<uint32_t>(last_stream_id) & 0x7fffffffu);
  put32(out, error_code);
  out.append(debug);
}

}  // namespace halyard::proxy::http
