// HTTP/2 framing (RFC 9113 section 4 and 6): the frame header, the frame types, flags, settings
// and error codes, and writers that append whole control frames to an output buffer. Shared by
// both sides of the proxy's HTTP/2 codec (h2_session_core.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace halyard::proxy::http {

// HTTP/2 error codes (section 7). Unscoped: they travel as the uint32_t of RST_STREAM, GOAWAY
// and the sessions' onStreamClose.
enum H2ErrorCode : uint32_t {
  kH2NoError = 0x0,
  kH2ProtocolError = 0x1,
  kH2InternalError = 0x2,
  kH2FlowControlError = 0x3,
  kH2SettingsTimeout = 0x4,
  kH2StreamClosed = 0x5,
  kH2FrameSizeError = 0x6,
  kH2RefusedStream = 0x7,
  kH2Cancel = 0x8,
  kH2CompressionError = 0x9,
  kH2ConnectError = 0xa,
  kH2EnhanceYourCalm = 0xb,
  kH2InadequateSecurity = 0xc,
  kH2Http11Required = 0xd,
};

// The code's name as the RFC spells it ("PROTOCOL_ERROR"), "unknown error code" otherwise.
std::string_view h2ErrorName(uint32_t code);

enum class H2FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoAway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};

inline constexpr uint8_t kH2FlagEndStream = 0x1;
inline constexpr uint8_t kH2FlagAck = 0x1;
inline constexpr uint8_t kH2FlagEndHeaders = 0x4;
inline constexpr uint8_t kH2FlagPadded = 0x8;
inline constexpr uint8_t kH2FlagPriority = 0x20;

enum H2SettingId : uint16_t {
  kH2SettingHeaderTableSize = 0x1,
  kH2SettingEnablePush = 0x2,
  kH2SettingMaxConcurrentStreams = 0x3,
  kH2SettingInitialWindowSize = 0x4,
  kH2SettingMaxFrameSize = 0x5,
  kH2SettingMaxHeaderListSize = 0x6,
  kH2SettingEnableConnectProtocol = 0x8,
};

inline constexpr size_t kH2FrameHeaderSize = 9;
inline constexpr uint32_t kH2DefaultMaxFrameSize = 16384;
inline constexpr uint32_t kH2MaxFrameSizeLimit = (1u << 24) - 1;
inline constexpr int32_t kH2DefaultWindow = 65535;
inline constexpr int64_t kH2MaxWindow = 0x7fffffff;
inline constexpr std::string_view kH2ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct H2FrameHeader {
  uint32_t length = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
  int32_t stream_id = 0;  // the reserved bit cleared
};

inline uint32_t h2Read32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

inline H2FrameHeader h2ParseFrameHeader(const uint8_t* p) {
  H2FrameHeader h;
  h.length = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  h.type = p[3];
  h.flags = p[4];
  h.stream_id = static_cast<int32_t>(h2Read32(p + 5) & 0x7fffffffu);
  return h;
}

inline void h2PutFrameHeader(char* p, uint32_t length, H2FrameType type, uint8_t flags,
                             int32_t stream_id) {
  p[0] = static_cast<char>(length >> 16);
  p[1] = static_cast<char>(length >> 8);
  p[2] = static_cast<char>(length);
  p[3] = static_cast<char>(type);
  p[4] = static_cast<char>(flags);
  const auto id = static_cast<uint32_t>(stream_id);
  p[5] = static_cast<char>((id >> 24) & 0x7f);
  p[6] = static_cast<char>(id >> 16);
  p[7] = static_cast<char>(id >> 8);
  p[8] = static_cast<char>(id);
}

// Appends a frame header to `out`.
void h2AppendFrameHeader(std::string& out, uint32_t length, H2FrameType type, uint8_t flags,
                         int32_t stream_id);

struct H2Setting {
  uint16_t id;
  uint32_t value;
};
void h2AppendSettings(std::string& out, const H2Setting* settings, size_t count);
void h2AppendSettingsAck(std::string& out);
void h2AppendPing(std::string& out, const uint8_t* opaque, bool ack);
void h2AppendRstStream(std::string& out, int32_t stream_id, uint32_t error_code);
void h2AppendWindowUpdate(std::string& out, int32_t stream_id, uint32_t increment);
void h2AppendGoAway(std::string& out, int32_t last_stream_id, uint32_t error_code,
                    std::string_view debug);

}  // namespace halyard::proxy::http
