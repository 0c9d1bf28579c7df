#include "proxy/http/h2_session_core.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace halyard::proxy::http {

namespace {

// What one DATA frame of ours carries at most, whatever larger frames the peer allows: reading
// the body in pieces of this size keeps the round robin between streams fine-grained.
constexpr uint32_t kMaxDataFrame = 16384;
// Frames of one header block (HEADERS and its CONTINUATIONs) beyond which the peer is flooding.
constexpr uint32_t kMaxBlockFrames = 256;
// Ended streams' objects kept for the next ones: enough for a busy connection's churn, little
// for one that went idle after a burst (the rest are freed).
constexpr size_t kSpareStreams = 32;

// Characters of a field name as HTTP/2 carries it: a token, lowercase.
constexpr std::array<bool, 256> kNameChar = [] {
  std::array<bool, 256> t{};
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  return t;
}();

// Characters a field value may not hold.
constexpr std::array<bool, 256> kBadValueChar = [] {
  std::array<bool, 256> t{};
  t[0] = t['\r'] = t['\n'] = true;
  return t;
}();

bool validName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!kNameChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// Whether any byte of `x` is zero, eight at a time.
constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;
inline bool anyZeroByte(uint64_t x) {
  return ((x - kOnes) & ~x & kHighs) != 0;
}

// Whether `v` holds NUL, CR or LF: eight bytes at a time (values are most of a head's bytes).
bool hasBadValueChar(std::string_view v) {
  const char* p = v.data();
  size_t n = v.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (anyZeroByte(w) || anyZeroByte(w ^ (kOnes * '\r')) || anyZeroByte(w ^ (kOnes * '\n'))) {
      return true;
    }
  }
  for (; n > 0; ++p, --n) {
    if (kBadValueChar[static_cast<unsigned char>(*p)]) return true;
  }
  return false;
}

// RFC 9113 section 8.2.1: no NUL, CR or LF, and no leading or trailing space or tab.
bool validValue(std::string_view v) {
  if (v.empty()) return true;
  if (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' || v.back() == '\t') return false;
  return !hasBadValueChar(v);
}

}  // namespace

// The decoder's check of a field entering its table (HpackDecoder::FieldCheck): a regular
// field's name and value as checkFields() wants them, or a pseudo-header field's name (':' and a
// token) with a value that would pass as a regular one. What fails is not an error here: the
// field is only left to checkFields(), as any field sent without indexing is.
bool h2WellFormedField(std::string_view name, std::string_view value) {
  if (!name.empty() && name[0] == ':') name.remove_prefix(1);
  return validName(name) && validValue(value);
}

namespace {

bool equalsLowercase(std::string_view v, std::string_view lower) {
  if (v.size() != lower.size()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

bool parseLength(std::string_view v, int64_t& out) {
  if (v.empty() || v.size() > 18) return false;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  out = n;
  return true;
}

// Body bytes are read here, then copied into the output once their number is known.
thread_local std::array<uint8_t, kMaxDataFrame> body_scratch;

}  // namespace

H2SessionCore::H2SessionCore(Role role, const Options& options)
    : role_(role),
      options_(options),
      peer_parity_(role == Role::kServer ? 1 : 0),
      decoder_(kHpackDefaultTableSize, options.max_header_list, &h2WellFormedField),
      encoder_(kHpackDefaultTableSize),
      preface_left_(role == Role::kServer ? kH2ClientPreface.size() : 0),
      next_local_id_(role == Role::kServer ? 2 : 1),
      conn_recv_window_(kH2DefaultWindow) {
  table_.resize(16);
  if (role == Role::kClient) pending_.append(kH2ClientPreface);
  H2Setting settings[6];
  size_t n = 0;
  if (role == Role::kServer) {
    settings[n++] = {kH2SettingMaxConcurrentStreams, options.max_concurrent_streams};
  }
  settings[n++] = {kH2SettingInitialWindowSize, options.initial_window};
  if (role == Role::kServer) {
    settings[n++] = {kH2SettingMaxHeaderListSize, options.max_header_list};
  }
  settings[n++] = {kH2SettingEnablePush, 0};
  if (options.connect_protocol) settings[n++] = {kH2SettingEnableConnectProtocol, 1};
  h2AppendSettings(pending_, settings, n);
  if (options.connection_window > static_cast<uint32_t>(kH2DefaultWindow)) {
    h2AppendWindowUpdate(pending_, 0, options.connection_window - kH2DefaultWindow);
    conn_recv_window_ = options.connection_window;
  }
}

H2SessionCore::~H2SessionCore() = default;

// --- input ---------------------------------------------------------------------------------

bool H2SessionCore::receive(std::span<const uint8_t> bytes) {
  if (failed_) return false;
  if (preface_left_ > 0) {
    const size_t at = kH2ClientPreface.size() - preface_left_;
    const size_t n = std::min(preface_left_, bytes.size());
    if (std::memcmp(bytes.data(), kH2ClientPreface.data() + at, n) != 0) {
      return fail(kH2ProtocolError, "the client preface is not HTTP/2's");
    }
    preface_left_ -= n;
    bytes = bytes.subspan(n);
  }
  const H2FrameReader::Status status =
      reader_.feed(bytes, [this](const H2FrameHeader& h, std::span<const uint8_t> payload) {
        return processFrame(h, payload);
      });
  if (status == H2FrameReader::Status::kTooLarge) {
    return fail(kH2FrameSizeError, "a frame is larger than SETTINGS_MAX_FRAME_SIZE");
  }
  return !failed_;
}

bool H2SessionCore::processFrame(const H2FrameHeader& h, std::span<const uint8_t> payload) {
  const auto type = static_cast<H2FrameType>(h.type);
  if (continuation_id_ != 0 && type != H2FrameType::kContinuation) {
    return fail(kH2ProtocolError, "a frame interrupted a header block (CONTINUATION expected)");
  }
  if (!settings_seen_ && (type != H2FrameType::kSettings || (h.flags & kH2FlagAck) != 0)) {
    return fail(kH2ProtocolError, "the peer's first frame is not SETTINGS");
  }
  switch (type) {
    case H2FrameType::kData:
      return onDataFrame(h, payload);
    case H2FrameType::kHeaders:
      return onHeadersFrame(h, payload);
    case H2FrameType::kPriority:
      // Parsed, checked and ignored: streams are served round robin.
      if (h.stream_id == 0) return fail(kH2ProtocolError, "PRIORITY on stream 0");
      if (h.length != 5) {
        streamError(h.stream_id, kH2FrameSizeError);
      } else if (static_cast<int32_t>(h2Read32(payload.data()) & 0x7fffffffu) == h.stream_id) {
        streamError(h.stream_id, kH2ProtocolError);
      }
      return true;
    case H2FrameType::kRstStream:
      return onRstStream(h, payload);
    case H2FrameType::kSettings:
      return onSettingsFrame(h, payload);
    case H2FrameType::kPushPromise:
      return fail(kH2ProtocolError, "PUSH_PROMISE, though push is disabled");
    case H2FrameType::kPing:
      if (h.stream_id != 0) return fail(kH2ProtocolError, "PING on a stream");
      if (h.length != 8) return fail(kH2FrameSizeError, "PING of a length other than 8");
      if ((h.flags & kH2FlagAck) == 0) h2AppendPing(pending_, payload.data(), true);
      return true;
    case H2FrameType::kGoAway:
      return onGoAwayFrame(h, payload);
    case H2FrameType::kWindowUpdate:
      return onWindowUpdate(h, payload);
    case H2FrameType::kContinuation: {
      if (continuation_id_ == 0 || h.stream_id != continuation_id_) {
        return fail(kH2ProtocolError, "CONTINUATION without a header block to continue");
      }
      block_.append(reinterpret_cast<const char*>(payload.data()), payload.size());
      if (++block_frames_ > kMaxBlockFrames ||
          block_.size() > 2 * size_t{options_.max_header_list} + kMaxDataFrame) {
        return fail(kH2EnhanceYourCalm, "a header block of too many frames or bytes");
      }
      if ((h.flags & kH2FlagEndHeaders) == 0) return true;
      const int32_t id = continuation_id_;
      continuation_id_ = 0;
      return onHeaderBlock(id, continuation_end_stream_, block_);
    }
    default:
      return true;  // unknown frame types are ignored
  }
}

bool H2SessionCore::onDataFrame(const H2FrameHeader& h, std::span<const uint8_t> payload) {
  const int32_t id = h.stream_id;
  if (id == 0) return fail(kH2ProtocolError, "DATA on stream 0");
  std::span<const uint8_t> data = payload;
  if ((h.flags & kH2FlagPadded) != 0) {
    if (payload.empty() || payload[0] >= payload.size()) {
      return fail(kH2ProtocolError, "DATA padding as long as the frame");
    }
    data = payload.subspan(1, payload.size() - 1 - payload[0]);
  }
  const uint32_t length = h.length;
  if (length > conn_recv_window_) {
    return fail(kH2FlowControlError, "DATA beyond the connection's flow-control window");
  }
  conn_recv_window_ -= length;
  Stream* s = find(id);
  if (s == nullptr) {
    if (peerIdle(id) || localIdle(id)) return fail(kH2ProtocolError, "DATA on an idle stream");
    returnWindow(nullptr, length);  // a closed stream's: ignored
    return true;
  }
  if (s->closing) {
    returnWindow(nullptr, length);
    return true;
  }
  if (!s->head_received) {
    returnWindow(nullptr, length);
    streamError(id, kH2ProtocolError);
    return true;
  }
  if (s->remote_ended) {
    returnWindow(nullptr, length);
    streamError(id, kH2StreamClosed);
    return true;
  }
  if (length > static_cast<uint32_t>(std::max(s->recv_window, 0))) {
    returnWindow(nullptr, length);
    streamError(id, kH2FlowControlError);
    return true;
  }
  s->recv_window -= static_cast<int32_t>(length);
  if (length > data.size()) returnWindow(s, length - data.size());  // padding: never passed on
  s->data_received += data.size();
  const bool end = (h.flags & kH2FlagEndStream) != 0;
  if (s->content_length >= 0 && !s->no_body &&
      (s->data_received > static_cast<uint64_t>(s->content_length) ||
       (end && s->data_received != static_cast<uint64_t>(s->content_length)))) {
    returnWindow(nullptr, data.size());
    streamError(id, kH2ProtocolError);
    return true;
  }
  if (!data.empty()) onData(*s, data);
  if (end && !s->closing) {
    s->remote_ended = true;
    onRemoteEnd(*s);
    if (s->local_ended) scheduleClose(*s, kH2NoError);
  }
  return true;
}

bool H2SessionCore::onHeadersFrame(const H2FrameHeader& h, std::span<const uint8_t> payload) {
  if (h.stream_id == 0) return fail(kH2ProtocolError, "HEADERS on stream 0");
  size_t at = 0;
  size_t pad = 0;
  if ((h.flags & kH2FlagPadded) != 0) {
    if (payload.empty()) return fail(kH2FrameSizeError, "HEADERS too short for its padding");
    pad = payload[0];
    at = 1;
  }
  if ((h.flags & kH2FlagPriority) != 0) at += 5;
  if (at + pad > payload.size()) return fail(kH2ProtocolError, "HEADERS padding too long");
  const std::string_view fragment(reinterpret_cast<const char*>(payload.data()) + at,
                                  payload.size() - at - pad);
  const bool end_stream = (h.flags & kH2FlagEndStream) != 0;
  if ((h.flags & kH2FlagEndHeaders) == 0) {
    continuation_id_ = h.stream_id;
    continuation_end_stream_ = end_stream;
    block_.assign(fragment);
    block_frames_ = 1;
    return true;
  }
  return onHeaderBlock(h.stream_id, end_stream, fragment);
}

bool H2SessionCore::onHeaderBlock(int32_t id, bool end_stream, std::string_view block) {
  // Decoded whatever becomes of the stream: the table must follow the peer's.
  fields_.clear();
  bool too_large = false;
  if (auto r = decoder_.decode(block, fields_); !r) {
    if (r.error().kind != common::ErrorKind::kOverflow) {
      return fail(kH2CompressionError, "a header block HPACK cannot decode");
    }
    too_large = true;
  }
  H2Pseudo pseudo;
  std::span<const HpackField> regular;
  Stream* s = find(id);
  if (s == nullptr) {
    if (!peerIdle(id)) {
      if (localIdle(id)) return fail(kH2ProtocolError, "HEADERS on an idle stream");
      return true;  // a closed stream (perhaps reset here): ignored
    }
    if (role_ == Role::kClient) return fail(kH2ProtocolError, "a stream opened by the server");
    last_peer_id_ = id;
    if (goaway_sent_) {
      h2AppendRstStream(pending_, id, kH2RefusedStream);
      return true;
    }
    if (active_ >= options_.max_concurrent_streams) {
      h2AppendRstStream(pending_, id, kH2RefusedStream);
      return true;
    }
    s = newStream(id);
    uint32_t code =
        too_large ? kH2ProtocolError
                  : checkFields(*s, fields_, decoder_.checkedFields(), pseudo, regular, false);
    if (code == 0 && end_stream && s->content_length > 0) code = kH2ProtocolError;
    if (code == 0) {
      s->head_received = true;
      s->remote_ended = end_stream;
      code = onStreamHead(*s, pseudo, regular, end_stream);
    }
    if (code != 0) {
      // The role never saw the stream.
      h2AppendRstStream(pending_, id, code);
      s->closing = true;
      --active_;
      release(*s);
    }
    return true;
  }
  if (s->closing) return true;
  if (s->remote_ended) {
    streamError(id, kH2StreamClosed);
    return true;
  }
  if (too_large) {
    streamError(id, kH2ProtocolError);
    return true;
  }
  if (!s->head_received) {
    bool final_head = false;
    uint32_t code = checkFields(*s, fields_, decoder_.checkedFields(), pseudo, regular, false);
    if (code == 0) code = onReplyHead(*s, pseudo, regular, end_stream, final_head);
    if (code == 0 && end_stream && !final_head) code = kH2ProtocolError;
    if (code == 0 && end_stream && !s->no_body && s->content_length > 0) code = kH2ProtocolError;
    if (code != 0) {
      streamError(id, code);
      return true;
    }
    if (final_head) s->head_received = true;
  } else {
    // Trailers: the end of the message.
    uint32_t code = end_stream
                        ? checkFields(*s, fields_, decoder_.checkedFields(), pseudo, regular, true)
                        : kH2ProtocolError;
    if (code == 0 && s->content_length >= 0 && !s->no_body &&
        s->data_received != static_cast<uint64_t>(s->content_length)) {
      code = kH2ProtocolError;
    }
    if (code != 0) {
      streamError(id, code);
      return true;
    }
    onTrailers(*s, regular);
  }
  if (end_stream && !s->closing) {
    s->remote_ended = true;
    onRemoteEnd(*s);
    if (s->local_ended) scheduleClose(*s, kH2NoError);
  }
  return true;
}

uint32_t H2SessionCore::checkFields(Stream& s, std::span<const HpackField> all, uint64_t checked,
                                    H2Pseudo& pseudo, std::span<const HpackField>& regular,
                                    bool trailers) {
  size_t i = 0;
  for (; i < all.size() && !all[i].name.empty() && all[i].name[0] == ':'; ++i) {
    if (trailers) return kH2ProtocolError;
    const std::string_view n = all[i].name;
    const std::string_view v = all[i].value;
    uint8_t bit = 0;
    std::string_view* slot = nullptr;
    if (role_ == Role::kServer) {
      if (n == ":method") {
        bit = kH2PseudoMethod, slot = &pseudo.method;
      } else if (n == ":path") {
        bit = kH2PseudoPath, slot = &pseudo.path;
      } else if (n == ":scheme") {
        bit = kH2PseudoScheme, slot = &pseudo.scheme;
      } else if (n == ":authority") {
        bit = kH2PseudoAuthority, slot = &pseudo.authority;
      } else if (n == ":protocol" && options_.connect_protocol) {
        bit = kH2PseudoProtocol, slot = &pseudo.protocol;
      }
    } else if (n == ":status") {
      bit = kH2PseudoStatus, slot = &pseudo.status;
    }
    if (bit == 0 || (pseudo.seen & bit) != 0) return kH2ProtocolError;
    if ((checked & 1) == 0 && hasBadValueChar(v)) return kH2ProtocolError;
    checked >>= 1;
    pseudo.seen |= bit;
    *slot = v;
  }
  regular = all.subspan(i);
  for (const HpackField& f : regular) {
    const std::string_view n = f.name;
    const bool known_good = (checked & 1) != 0;
    checked >>= 1;
    // (A checked name may still be a pseudo-header's, out of place after a regular field.)
    if (known_good ? n[0] == ':' : (!validName(n) || !validValue(f.value))) {
      return kH2ProtocolError;
    }
    switch (n.size()) {
      case 2:
        if (n == "te" && !equalsLowercase(f.value, "trailers")) return kH2ProtocolError;
        break;
      case 7:
        if (n == "upgrade") return kH2ProtocolError;
        break;
      case 10:
        if (n == "connection" || n == "keep-alive") return kH2ProtocolError;
        break;
      case 14:
        if (n == "content-length" && !trailers) {
          int64_t length = 0;
          if (s.content_length >= 0 || !parseLength(f.value, length)) return kH2ProtocolError;
          s.content_length = length;
        }
        break;
      case 16:
        if (n == "proxy-connection") return kH2ProtocolError;
        break;
      case 17:
        if (n == "transfer-encoding") return kH2ProtocolError;
        break;
      default:
        break;
    }
  }
  return 0;
}

bool H2SessionCore::onSettingsFrame(const H2FrameHeader& h, std::span<const uint8_t> payload) {
  if (h.stream_id != 0) return fail(kH2ProtocolError, "SETTINGS on a stream");
  if ((h.flags & kH2FlagAck) != 0) {
    if (h.length != 0) return fail(kH2FrameSizeError, "a SETTINGS ACK with a payload");
    return true;
  }
  if (h.length % 6 != 0) return fail(kH2FrameSizeError, "SETTINGS of a length not 6n");
  for (size_t i = 0; i < payload.size(); i += 6) {
    const uint16_t id = static_cast<uint16_t>((payload[i] << 8) | payload[i + 1]);
    if (!applySetting(id, h2Read32(payload.data() + i + 2))) return false;
  }
  settings_seen_ = true;
  h2AppendSettingsAck(pending_);
  return true;
}

bool H2SessionCore::applySetting(uint16_t id, uint32_t value) {
  switch (id) {
    case kH2SettingHeaderTableSize:
      encoder_.setPeerMaxTableSize(value);
      return true;
    case kH2SettingEnablePush:
    case kH2SettingEnableConnectProtocol:
      if (value > 1) return fail(kH2ProtocolError, "a boolean setting other than 0 or 1");
      return true;
    case kH2SettingMaxConcurrentStreams:
      peer_max_streams_ = value;
      return true;
    case kH2SettingInitialWindowSize: {
      if (value > kH2MaxWindow) {
        return fail(kH2FlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
      }
      const int64_t delta = int64_t{value} - peer_initial_window_;
      for (Stream* s : table_) {
        if (s == nullptr) continue;
        const int64_t next = s->send_window + delta;
        if (next > kH2MaxWindow) {
          return fail(kH2FlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE overflows a window");
        }
        s->send_window = static_cast<int32_t>(next);
        if (s->send_window > 0 && s->providing && !s->deferred) markReady(*s);
      }
      peer_initial_window_ = static_cast<int32_t>(value);
      return true;
    }
    case kH2SettingMaxFrameSize:
      if (value < kH2DefaultMaxFrameSize || value > kH2MaxFrameSizeLimit) {
        return fail(kH2ProtocolError, "SETTINGS_MAX_FRAME_SIZE out of range");
      }
      peer_max_frame_ = value;
      return true;
    default:
      return true;  // SETTINGS_MAX_HEADER_LIST_SIZE (advisory) and unknown ones
  }
}

bool H2SessionCore::onWindowUpdate(const H2FrameHeader& h, std::span<const uint8_t> payload) {
  if (h.length != 4) return fail(kH2FrameSizeError, "WINDOW_UPDATE of a length other than 4");
  const uint32_t increment = h2Read32(payload.data()) & 0x7fffffffu;
  if (h.stream_id == 0) {
    if (increment == 0) return fail(kH2ProtocolError, "WINDOW_UPDATE of 0 on the connection");
    if (conn_send_window_ + increment > kH2MaxWindow) {
      return fail(kH2FlowControlError, "WINDOW_UPDATE beyond 2^31-1 on the connection");
    }
    conn_send_window_ += increment;
    return true;
  }
  Stream* s = find(h.stream_id);
  if (s == nullptr) {
    if (peerIdle(h.stream_id) || localIdle(h.stream_id)) {
      return fail(kH2ProtocolError, "WINDOW_UPDATE on an idle stream");
    }
    return true;
  }
  if (s->closing) return true;
  if (increment == 0) {
    streamError(h.stream_id, kH2ProtocolError);
    return true;
  }
  if (int64_t{s->send_window} + increment > kH2MaxWindow) {
    streamError(h.stream_id, kH2FlowControlError);
    return true;
  }
  s->send_window += static_cast<int32_t>(increment);
  if (s->send_window > 0 && s->providing && !s->deferred) markReady(*s);
  return true;
}

bool H2SessionCore::onRstStream(const H2FrameHeader& h, std::span<const uint8_t> payload) {
  if (h.stream_id == 0) return fail(kH2ProtocolError, "RST_STREAM on stream 0");
  if (h.length != 4) return fail(kH2FrameSizeError, "RST_STREAM of a length other than 4");
  Stream* s = find(h.stream_id);
  if (s == nullptr) {
    if (peerIdle(h.stream_id) || localIdle(h.stream_id)) {
      return fail(kH2ProtocolError, "RST_STREAM on an idle stream");
    }
    return true;
  }
  if (s->closing) return true;
  s->closing = true;
  --active_;
  s->ready = false;
  onClose(*s, h2Read32(payload.data()));
  release(*s);
  return true;
}

bool H2SessionCore::onGoAwayFrame(const H2FrameHeader& h, std::span<const uint8_t> payload) {
  if (h.stream_id != 0) return fail(kH2ProtocolError, "GOAWAY on a stream");
  if (h.length < 8) return fail(kH2FrameSizeError, "GOAWAY shorter than 8 bytes");
  const auto last = static_cast<int32_t>(h2Read32(payload.data()) & 0x7fffffffu);
  goaway_received_ = true;
  goaway_last_id_ = std::min(goaway_last_id_, last);
  // Streams we opened that the peer never processed: refused, safe to retry elsewhere.
  std::vector<Stream*> refused;
  for (Stream* s : table_) {
    if (s != nullptr && (s->id & 1) != peer_parity_ && s->id > last && !s->closing) {
      refused.push_back(s);
    }
  }
  for (Stream* s : refused) {
    s->closing = true;
    --active_;
    s->ready = false;
    onClose(*s, kH2RefusedStream);
    release(*s);
  }
  onGoAway(last);
  return true;
}

bool H2SessionCore::fail(uint32_t code, std::string_view why) {
  if (failed_) return false;
  failed_ = true;
  error_ = std::string(h2ErrorName(code)) + ": " + std::string(why);
  h2AppendGoAway(pending_, last_peer_id_, code, why);
  return false;
}

void H2SessionCore::streamError(int32_t id, uint32_t code) {
  if (failed_) return;
  h2AppendRstStream(pending_, id, code);
  Stream* s = find(id);
  if (s != nullptr && !s->closing) scheduleClose(*s, code);
}

// --- output --------------------------------------------------------------------------------

bool H2SessionCore::send(std::string& out, size_t max) {
  while (out.size() < max) {
    if (!pending_.empty()) {
      if (out.empty()) {
        out.swap(pending_);
      } else {
        out.append(pending_);
      }
      pending_.clear();
      continue;
    }
    if (!closing_.empty()) {
      // Their last frames are out: the role hears of it (and may queue frames meanwhile).
      closing_now_.swap(closing_);
      for (Stream* s : closing_now_) {
        onClose(*s, s->close_code);
        release(*s);
      }
      closing_now_.clear();
      continue;
    }
    if (failed_ || !sendDataRound(out, max)) break;
  }
  return true;
}

bool H2SessionCore::wantsRead() const {
  if (failed_) return false;
  return in_table_ > 0 || !(goaway_sent_ || goaway_received_);
}

bool H2SessionCore::wantsWrite() const {
  if (!pending_.empty() || !closing_.empty()) return true;
  if (failed_ || conn_send_window_ <= 0) return false;
  for (const Stream* s : ready_) {
    if (s->ready) return true;
  }
  return false;
}

bool H2SessionCore::sendDataRound(std::string& out, size_t max) {
  if (ready_.empty() || conn_send_window_ <= 0) return false;
  bool wrote = false;
  in_round_ = true;
  next_ready_.clear();
  const size_t count = ready_.size();
  for (size_t i = 0; i < count; ++i) {
    Stream* s = ready_[i];
    --s->listed;
    if (!s->ready) continue;
    if (out.size() >= max || conn_send_window_ <= 0) {
      carry(*s);
      continue;
    }
    if (s->closing || !s->providing || s->deferred || s->send_window <= 0) {
      s->ready = false;
      continue;
    }
    const auto room = static_cast<size_t>(
        std::min<int64_t>({int64_t{kMaxDataFrame}, int64_t{s->send_window}, conn_send_window_}));
    bool end = false;
    const long n = readBody(*s, body_scratch.data(), room, end);
    if (s->closing) continue;  // reset meanwhile
    if (n < 0 || (n == 0 && !end)) {
      s->deferred = true;
      s->ready = false;
      continue;
    }
    const auto size = static_cast<uint32_t>(std::min<size_t>(static_cast<size_t>(n), room));
    const std::vector<std::pair<std::string, std::string>>* trailers =
        end ? bodyTrailers(*s) : nullptr;
    const bool with_trailers = trailers != nullptr && !trailers->empty();
    if (size > 0 || !with_trailers) {
      h2AppendFrameHeader(out, size, H2FrameType::kData,
                          end && !with_trailers ? kH2FlagEndStream : 0, s->id);
      out.append(reinterpret_cast<const char*>(body_scratch.data()), size);
    }
    s->send_window -= static_cast<int32_t>(size);
    conn_send_window_ -= size;
    wrote = true;
    if (!end) {
      if (s->send_window > 0) {
        carry(*s);
      } else {
        s->ready = false;
      }
      continue;
    }
    s->providing = false;
    s->ready = false;
    if (with_trailers) {
      // After the DATA, and after any head queued meanwhile: blocks go out in the order the
      // HPACK encoder made them.
      if (!pending_.empty()) {
        out.append(pending_);
        pending_.clear();
      }
      trailer_scratch_.clear();
      trailer_names_.clear();
      for (const auto& [name, value] : *trailers) {
        if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
          std::string lower = name;
          for (char& c : lower) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
          }
          trailer_names_.push_back(std::move(lower));
        }
      }
      size_t lowered = 0;
      for (const auto& [name, value] : *trailers) {
        const bool upper =
            std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
        trailer_scratch_.push_back(
            HpackField{upper ? std::string_view(trailer_names_[lowered++]) : name, value});
      }
      appendHead(out, s->id, trailer_scratch_, true);
    }
    s->local_ended = true;
    if (s->remote_ended) scheduleClose(*s, kH2NoError);
  }
  in_round_ = false;
  // Streams made ready during the round were put in next_ready_ already.
  ready_.swap(next_ready_);
  return wrote;
}

void H2SessionCore::appendHead(std::string& buf, int32_t id, std::span<const HpackField> fields,
                               bool end_stream) {
  const size_t at = buf.size();
  buf.resize(at + kH2FrameHeaderSize);
  encoder_.encode(fields, buf);
  const size_t block = buf.size() - at - kH2FrameHeaderSize;
  const uint8_t end = end_stream ? kH2FlagEndStream : 0;
  if (block <= peer_max_frame_) {
    h2PutFrameHeader(buf.data() + at, static_cast<uint32_t>(block), H2FrameType::kHeaders,
                     end | kH2FlagEndHeaders, id);
    return;
  }
  // Larger than a frame: HEADERS, then CONTINUATION frames.
  const std::string whole = buf.substr(at + kH2FrameHeaderSize);
  buf.resize(at);
  for (size_t off = 0; off < whole.size(); off += peer_max_frame_) {
    const size_t n = std::min<size_t>(peer_max_frame_, whole.size() - off);
    const bool last = off + n == whole.size();
    h2AppendFrameHeader(buf, static_cast<uint32_t>(n),
                        off == 0 ? H2FrameType::kHeaders : H2FrameType::kContinuation,
                        static_cast<uint8_t>((off == 0 ? end : 0) | (last ? kH2FlagEndHeaders : 0)),
                        id);
    buf.append(whole, off, n);
  }
}

void H2SessionCore::sendHead(Stream& s, std::span<const HpackField> fields, bool end_stream) {
  appendHead(pending_, s.id, fields, end_stream);
  s.head_sent = true;
  if (end_stream) {
    s.local_ended = true;
    if (s.remote_ended) scheduleClose(s, kH2NoError);
  }
}

void H2SessionCore::startBody(Stream& s) {
  s.providing = true;
  s.deferred = false;
  if (s.send_window > 0) markReady(s);
}

void H2SessionCore::markReady(Stream& s) {
  if (s.ready) return;
  s.ready = true;
  ++s.listed;
  (in_round_ ? next_ready_ : ready_).push_back(&s);
}

// --- the role's calls ----------------------------------------------------------------------

void H2SessionCore::consume(int32_t stream_id, size_t bytes) {
  if (bytes == 0) return;
  Stream* s = find(stream_id);
  returnWindow(s != nullptr && !s->closing ? s : nullptr, bytes);
}

void H2SessionCore::returnWindow(Stream* s, size_t bytes) {
  if (failed_) return;
  // Returned in batches of half a window, not per DATA frame.
  conn_consumed_ += bytes;
  if (conn_consumed_ >= options_.connection_window / 2) {
    h2AppendWindowUpdate(pending_, 0, static_cast<uint32_t>(conn_consumed_));
    conn_recv_window_ += conn_consumed_;
    conn_consumed_ = 0;
  }
  if (s == nullptr || s->remote_ended) return;
  s->consumed += static_cast<uint32_t>(bytes);
  if (s->consumed >= options_.initial_window / 2) {
    h2AppendWindowUpdate(pending_, s->id, s->consumed);
    s->recv_window += static_cast<int32_t>(s->consumed);
    s->consumed = 0;
  }
}

void H2SessionCore::resume(int32_t stream_id) {
  Stream* s = find(stream_id);
  if (s == nullptr || s->closing || !s->providing || !s->deferred) return;
  s->deferred = false;
  if (s->send_window > 0) markReady(*s);
}

void H2SessionCore::reset(int32_t stream_id, uint32_t error_code) {
  Stream* s = find(stream_id);
  if (s == nullptr || s->closing) return;
  streamError(stream_id, error_code);
}

void H2SessionCore::goAway() {
  if (failed_) return;
  goaway_sent_ = true;
  h2AppendGoAway(pending_, last_peer_id_, kH2NoError, {});
}

bool H2SessionCore::applyUpgrade(std::string_view payload, bool peer_opened) {
  if (payload.size() % 6 != 0) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
  for (size_t i = 0; i < payload.size(); i += 6) {
    if (!applySetting(static_cast<uint16_t>((p[i] << 8) | p[i + 1]), h2Read32(p + i + 2))) {
      return false;
    }
  }
  Stream* s = newStream(1);
  s->head_received = peer_opened;
  if (peer_opened) {
    s->remote_ended = true;
    last_peer_id_ = 1;
  } else {
    s->local_ended = true;
    s->head_sent = true;
    next_local_id_ = 3;
  }
  return true;
}

H2SessionCore::Stream* H2SessionCore::openLocalStream() {
  if (failed_ || goaway_received_ || next_local_id_ > 0x7ffffffd) return nullptr;
  Stream* s = newStream(next_local_id_);
  next_local_id_ += 2;
  return s;
}

// --- streams -------------------------------------------------------------------------------

H2SessionCore::Stream* H2SessionCore::newStream(int32_t id) {
  Stream* s;
  if (free_.empty()) {
    pool_.push_back(std::make_unique<Stream>());
    s = pool_.back().get();
  } else {
    s = free_.back();
    free_.pop_back();
    *s = Stream{};
  }
  s->id = id;
  s->send_window = peer_initial_window_;
  s->recv_window = static_cast<int32_t>(options_.initial_window);
  tableInsert(s);
  ++active_;
  return s;
}

void H2SessionCore::scheduleClose(Stream& s, uint32_t code) {
  if (s.closing) return;
  s.closing = true;
  s.close_code = code;
  s.ready = false;
  --active_;
  closing_.push_back(&s);
}

void H2SessionCore::release(Stream& s) {
  tableErase(s.id);
  s.ready = false;
  if (s.listed > 0) {
    // Never during a round: the lists hold no other use of it.
    std::erase(ready_, &s);
    std::erase(next_ready_, &s);
    s.listed = 0;
  }
  s.id = 0;
  s.user = nullptr;
  if (free_.size() < kSpareStreams) {
    free_.push_back(&s);
    return;
  }
  auto it = std::find_if(pool_.begin(), pool_.end(),
                         [&](const std::unique_ptr<Stream>& p) { return p.get() == &s; });
  *it = std::move(pool_.back());
  pool_.pop_back();
}

H2SessionCore::Stream* H2SessionCore::find(int32_t id) const {
  if (id <= 0) return nullptr;
  const size_t mask = table_.size() - 1;
  for (size_t i = slotOf(id);; i = (i + 1) & mask) {
    Stream* s = table_[i];
    if (s == nullptr) return nullptr;
    if (s->id == id) return s;
  }
}

void H2SessionCore::tableInsert(Stream* s) {
  if (2 * (in_table_ + 1) > table_.size()) {
    std::vector<Stream*> old(table_.size() * 2, nullptr);
    old.swap(table_);
    --table_shift_;
    in_table_ = 0;
    for (Stream* e : old) {
      if (e != nullptr) tableInsert(e);
    }
  }
  const size_t mask = table_.size() - 1;
  size_t i = slotOf(s->id);
  while (table_[i] != nullptr) i = (i + 1) & mask;
  table_[i] = s;
  ++in_table_;
}

void H2SessionCore::tableErase(int32_t id) {
  const size_t mask = table_.size() - 1;
  size_t i = slotOf(id);
  while (table_[i] != nullptr && table_[i]->id != id) i = (i + 1) & mask;
  if (table_[i] == nullptr) return;
  table_[i] = nullptr;
  --in_table_;
  // Backward shift: entries after the hole that could live in it move up, so that probes
  // never stop early.
  for (size_t j = (i + 1) & mask; table_[j] != nullptr; j = (j + 1) & mask) {
    const size_t k = slotOf(table_[j]->id);
    const bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    table_[i] = table_[j];
    table_[j] = nullptr;
    i = j;
  }
}

}  // namespace halyard::proxy::http
