// The connection core both sides of the proxy's HTTP/2 codec share (RFC 9113): frames in
// (H2FrameReader), connection and stream state, SETTINGS both ways, flow control in both
// directions, PING, GOAWAY, RST_STREAM, header blocks (HEADERS and CONTINUATION joined, then
// HPACK-decoded and checked as HTTP messaging requires), DATA pulled from the role when the
// windows allow, round robin between streams; frames out, appended to one buffer.
//
// The role (H2ServerSession, H2ClientSession) derives from it and gets the stream events
// through the virtual functions below. Callbacks never run inside the role's own calls into the
// core (respond, request, reset, consume, resume): a stream closes in send() after its last
// frame went out, or in receive() when the peer ends or resets it.
//
// Streams are pooled: one ends, its object serves the next one; the table of open streams is
// open-addressed. Nothing is allocated per stream once the pool has grown to the concurrency
// the connection sees.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/h2_frame.h"
#include "proxy/http/h2_frame_reader.h"
#include "proxy/http/hpack_decoder.h"
#include "proxy/http/hpack_encoder.h"

namespace halyard::proxy::http {

// The pseudo-header fields of a received head, checked for placement and duplicates; what the
// role requires of them it checks itself.
struct H2Pseudo {
  std::string_view method, scheme, authority, path, protocol, status;
  uint8_t seen = 0;  // bits: kH2Pseudo*
};
inline constexpr uint8_t kH2PseudoMethod = 1, kH2PseudoScheme = 2, kH2PseudoAuthority = 4,
                         kH2PseudoPath = 8, kH2PseudoProtocol = 16, kH2PseudoStatus = 32;

// Whether a field's bytes are well formed for HTTP/2 (RFC 9113 section 8.2.1): a lowercase token
// for a name (after the ':' of a pseudo-header's), a value without NUL, CR or LF or spaces at
// its ends. The HPACK decoder checks fields with it as they enter its table.
bool h2WellFormedField(std::string_view name, std::string_view value);

class H2SessionCore {
 public:
  struct Stream {
    int32_t id = 0;
    int32_t send_window = 0;      // what we may still send (may go negative on a SETTINGS change)
    int32_t recv_window = 0;      // what the peer may still send
    uint32_t consumed = 0;        // received bytes passed on, not yet returned by WINDOW_UPDATE
    int64_t content_length = -1;  // announced by the peer's head, -1: none
    uint64_t data_received = 0;
    bool head_received = false;  // the peer's (final) head
    bool remote_ended = false;   // END_STREAM received
    bool local_ended = false;    // END_STREAM queued
    bool head_sent = false;
    bool providing = false;  // our body is pulled from the role
    bool deferred = false;   // the role had no body bytes ready: wait for resume()
    bool ready = false;      // to be given a DATA frame in the next round
    uint8_t listed = 0;      // entries in ready_ and next_ready_ (stale ones included)
    bool closing = false;    // closes in the next send(); frames from the peer ignored
    bool no_body = false;    // the peer's message has no body whatever its content-length
    uint32_t close_code = 0;
    void* user = nullptr;  // the role's
  };

  enum class Role { kServer, kClient };
  struct Options {
    uint32_t max_concurrent_streams = 0xffffffffu;  // what we let the peer open
    uint32_t initial_window = kH2DefaultWindow;     // per stream, what the peer may send unread
    uint32_t connection_window = kH2DefaultWindow;
    uint32_t max_header_list = HpackDecoder::kDefaultMaxListSize;
    bool connect_protocol = false;  // SETTINGS_ENABLE_CONNECT_PROTOCOL
  };

  H2SessionCore(Role role, const Options& options);
  virtual ~H2SessionCore();
  H2SessionCore(const H2SessionCore&) = delete;
  H2SessionCore& operator=(const H2SessionCore&) = delete;

  bool receive(std::span<const uint8_t> bytes);
  bool send(std::string& out, size_t max);
  bool wantsRead() const;
  bool wantsWrite() const;
  const std::string& error() const { return error_; }

  void consume(int32_t stream_id, size_t bytes);
  void resume(int32_t stream_id);
  void reset(int32_t stream_id, uint32_t error_code);
  // GOAWAY (NO_ERROR) with the last stream the peer opened: no new streams.
  void goAway();
  bool goAwayReceived() const { return goaway_received_; }
  uint32_t peerMaxConcurrentStreams() const { return peer_max_streams_; }

 protected:
  // A head from the peer opening a stream (server: a request). `fields` are the regular fields
  // (checked); 0, or the stream error to reset it with (the stream was not announced).
  virtual uint32_t onStreamHead(Stream& s, const H2Pseudo& pseudo,
                                std::span<const HpackField> fields, bool end_stream) = 0;
  // A head on a stream we opened (client: a response, interim or final). Returns 0 or a stream
  // error; `final_head` set when no other head is to come.
  virtual uint32_t onReplyHead(Stream& s, const H2Pseudo& pseudo,
                               std::span<const HpackField> fields, bool end_stream,
                               bool& final_head) = 0;
  // Trailers (checked: no pseudo-header fields), just before onRemoteEnd.
  virtual void onTrailers(Stream& s, std::span<const HpackField> fields) = 0;
  virtual void onData(Stream& s, std::span<const uint8_t> data) = 0;
  // The peer ended its message.
  virtual void onRemoteEnd(Stream& s) = 0;
  // The stream is gone (it is released when this returns).
  virtual void onClose(Stream& s, uint32_t error_code) = 0;
  virtual long readBody(Stream& s, uint8_t* out, size_t max, bool& end) = 0;
  // After the body ended: trailers to send (null or empty: END_STREAM on the last DATA).
  virtual const std::vector<std::pair<std::string, std::string>>* bodyTrailers(Stream& s) = 0;
  // The peer sent GOAWAY; streams we opened above `last_stream_id` were closed with
  // REFUSED_STREAM just before.
  virtual void onGoAway(int32_t /*last_stream_id*/) {}

  Stream* find(int32_t id) const;
  // A stream we open (client): the next id, or null when out of ids or going away.
  Stream* openLocalStream();
  // Appends HEADERS (and CONTINUATION) for `fields` on `s`; END_STREAM when `end_stream`.
  // Names must be lowercase.
  void sendHead(Stream& s, std::span<const HpackField> fields, bool end_stream);
  // Our body follows the head: pulled with readBody() as windows allow.
  void startBody(Stream& s);
  // h2c upgrade: the peer's settings (an HTTP2-Settings payload) apply, and stream 1 exists,
  // opened by the peer (server) or by us (client).
  bool applyUpgrade(std::string_view settings_payload, bool peer_opened);
  int32_t nextLocalId() const { return next_local_id_; }
  uint32_t activeStreams() const { return active_; }
  // Fields scratch the roles may use to assemble a head (cleared by them).
  std::vector<HpackField> head_scratch_;

 private:
  bool processFrame(const H2FrameHeader& h, std::span<const uint8_t> payload);
  bool onDataFrame(const H2FrameHeader& h, std::span<const uint8_t> payload);
  bool onHeadersFrame(const H2FrameHeader& h, std::span<const uint8_t> payload);
  bool onHeaderBlock(int32_t id, bool end_stream, std::string_view block);
  bool onSettingsFrame(const H2FrameHeader& h, std::span<const uint8_t> payload);
  bool applySetting(uint16_t id, uint32_t value);
  bool onWindowUpdate(const H2FrameHeader& h, std::span<const uint8_t> payload);
  bool onRstStream(const H2FrameHeader& h, std::span<const uint8_t> payload);
  bool onGoAwayFrame(const H2FrameHeader& h, std::span<const uint8_t> payload);
  // Connection error: GOAWAY with `code`, nothing more is read. Returns false.
  bool fail(uint32_t code, std::string_view why);
  // Stream error: RST_STREAM with `code`, the stream (if open) closes in the next send().
  void streamError(int32_t id, uint32_t code);
  // Whether an id not in the table is one the peer may open now (idle and of its parity).
  bool peerIdle(int32_t id) const { return (id & 1) == peer_parity_ && id > last_peer_id_; }
  bool localIdle(int32_t id) const { return (id & 1) != peer_parity_ && id >= next_local_id_; }
  // Regular fields checked as HTTP/2 messaging requires; pseudo-header fields split off.
  // 0 or the stream error. `checked`: the fields whose bytes the decoder already knows to be
  // well formed (HpackDecoder::checkedFields()); their names still get the per-name rules.
  uint32_t checkFields(Stream& s, std::span<const HpackField> all, uint64_t checked,
                       H2Pseudo& pseudo, std::span<const HpackField>& regular, bool trailers);
  Stream* newStream(int32_t id);
  void scheduleClose(Stream& s, uint32_t code);
  void release(Stream& s);
  void markReady(Stream& s);
  // Keeps a stream in the next round.
  void carry(Stream& s) {
    ++s.listed;
    next_ready_.push_back(&s);
  }
  // One DATA frame (or the end: trailers) for each ready stream; false when none was written.
  bool sendDataRound(std::string& out, size_t max);
  void returnWindow(Stream* s, size_t bytes);
  // HEADERS (and CONTINUATION when the block is larger than a frame) appended to `buf`.
  void appendHead(std::string& buf, int32_t id, std::span<const HpackField> fields,
                  bool end_stream);

  // The open-addressed stream table (ids are positive; 0 marks a free slot).
  void tableInsert(Stream* s);
  void tableErase(int32_t id);
  // Ids spread by a multiplicative hash: consecutive ids (a client's) would otherwise fill
  // consecutive slots, one long cluster that every erase has to walk.
  size_t slotOf(int32_t id) const {
    return (static_cast<uint32_t>(id) * 0x9e3779b1u) >> table_shift_;
  }

  Role role_;
  Options options_;
  int peer_parity_;  // 1: the peer opens odd streams (we are the server)
  H2FrameReader reader_;
  HpackDecoder decoder_;
  HpackEncoder encoder_;
  std::string error_;
  std::string pending_;  // frames queued, ahead of any DATA
  size_t preface_left_;  // client preface bytes still expected (server)
  bool settings_seen_ = false;
  bool failed_ = false;
  bool goaway_sent_ = false;
  bool goaway_received_ = false;
  int32_t goaway_last_id_ = 0x7fffffff;  // streams we may still open (after a received GOAWAY)
  int32_t last_peer_id_ = 0;
  int32_t next_local_id_;
  // Peer settings.
  uint32_t peer_max_streams_ = 0xffffffffu;
  int32_t peer_initial_window_ = kH2DefaultWindow;
  uint32_t peer_max_frame_ = kH2DefaultMaxFrameSize;
  // Connection windows.
  int64_t conn_send_window_ = kH2DefaultWindow;
  int64_t conn_recv_window_;
  uint64_t conn_consumed_ = 0;
  // A header block being joined (HEADERS without END_HEADERS, then CONTINUATION).
  int32_t continuation_id_ = 0;
  bool continuation_end_stream_ = false;
  std::string block_;
  uint32_t block_frames_ = 0;
  std::vector<HpackField> fields_;  // a decoded block
  // Streams.
  std::vector<Stream*> table_;
  int table_shift_ = 28;  // 32 - log2(table_.size())
  uint32_t in_table_ = 0;
  uint32_t active_ = 0;                        // in the table and not closing
  std::vector<std::unique_ptr<Stream>> pool_;  // every stream object
  std::vector<Stream*> free_;
  std::vector<Stream*> ready_;
  std::vector<Stream*> next_ready_;
  std::vector<Stream*> closing_;
  std::vector<Stream*> closing_now_;
  bool in_round_ = false;  // sendDataRound() runs: streams made ready go to next_ready_
  // Trailers to send, as HPACK fields (names lowercased into trailer_names_ where needed).
  std::vector<HpackField> trailer_scratch_;
  std::vector<std::string> trailer_names_;
};

}  // namespace halyard::proxy::http
