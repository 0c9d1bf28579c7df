// The HTTP/2 codec glue without sockets: a client session and a server session exchange bytes
// in memory (requests, bodies under flow control, trailers, resets), and the response encoder's
// translation of heads and local replies (gRPC trailers-only).
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "proxy/http/h2_client_session.h"
#include "proxy/http/h2_frame.h"
#include "proxy/http/h2_response_encoder.h"
#include "proxy/http/h2_server_session.h"
#include "proxy/http/h2_session_io.h"
#include "proxy/http/hpack_encoder.h"

namespace halyard::proxy::http {
namespace {

struct ServerSide final : H2ServerSession::Handler {
  H2ServerSession* session = nullptr;
  std::map<int32_t, H2RequestHead> heads;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, bool> ended;
  std::map<int32_t, std::string> to_send;  // response bodies
  Fields trailer_fields;
  bool consume = true;

  void onRequest(int32_t id, H2RequestHead head, bool end) override {
    heads[id] = std::move(head);
    ended[id] = end;
  }
  void onRequestData(int32_t id, std::span<const uint8_t> data) override {
    bodies[id].append(reinterpret_cast<const char*>(data.data()), data.size());
    if (consume) session->consume(id, data.size());
  }
  void onRequestEnd(int32_t id) override { ended[id] = true; }
  std::map<int32_t, uint32_t> closed;
  void onStreamClose(int32_t id, uint32_t code) override { closed[id] = code; }
  long readBody(int32_t id, uint8_t* out, size_t max, bool& end) override {
    std::string& b = to_send[id];
    const size_t n = std::min(max, b.size());
    std::memcpy(out, b.data(), n);
    b.erase(0, n);
    end = b.empty();
    return static_cast<long>(n);
  }
  const Fields* trailers(int32_t) override { return &trailer_fields; }
};

struct ClientSide final : H2ClientSession::Handler {
  uint16_t status = 0;
  Fields headers;
  std::string body;
  Fields trailers;
  bool ended = false;
  bool head_end_stream = false;
  uint32_t close_code = 99;

  void onResponseHead(int32_t, uint16_t s, FieldBlock& h, bool end) override {
    status = s;
    headers.clear();
    for (size_t i = 0; i < h.size(); ++i) headers.emplace_back(h.name(i), h.value(i));
    head_end_stream = end;
  }
  void onResponseData(int32_t, std::span<const uint8_t> data) override {
    body.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  void onResponseEnd(int32_t, Fields t) override {
    ended = true;
    trailers = std::move(t);
  }
  void onStreamClose(int32_t, uint32_t code) override { close_code = code; }
  std::string request_body;
  long readBody(int32_t, uint8_t* out, size_t max, bool& end) override {
    const size_t n = std::min(max, request_body.size());
    std::memcpy(out, request_body.data(), n);
    request_body.erase(0, n);
    end = request_body.empty();
    return static_cast<long>(n);
  }
};

struct Pair {
  ServerSide server_side;
  ClientSide client_side;
  H2ServerSession server{server_side, H2Settings{}};
  H2ClientSession client{client_side};
  Pair() { server_side.session = &server; }

  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int i = 0; i < 100; ++i) {
      std::string c2s, s2c;
      ASSERT_TRUE(client.send(c2s, 1 << 20));
      ASSERT_TRUE(server.send(s2c, 1 << 20));
      if (c2s.empty() && s2c.empty()) return;
      if (!c2s.empty()) {
        ASSERT_TRUE(server.receive(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(c2s.data()), c2s.size())));
      }
      if (!s2c.empty()) {
        ASSERT_TRUE(client.receive(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s2c.data()), s2c.size())));
      }
    }
  }
};

Fields request(std::string_view method, std::string_view path) {
  return {{":method", std::string(method)},
          {":scheme", "http"},
          {":authority", "api.example.com"},
          {":path", std::string(path)},
          {"content-type", "application/grpc"},
          {"cookie", "a=1"},
          {"cookie", "b=2"}};
}

TEST(H2Codec, RequestHeadBodyResponseAndTrailers) {
  Pair p;
  p.client_side.request_body = std::string(100'000, 'q');
  const int32_t id = p.client.request(request("POST", "/svc/Method"), true);
  ASSERT_EQ(id, 1);
  p.pump();
  const H2RequestHead& head = p.server_side.heads[1];
  EXPECT_EQ(head.method, "POST");
  EXPECT_EQ(head.path, "/svc/Method");
  EXPECT_EQ(head.authority, "api.example.com");
  EXPECT_EQ(head.scheme, "http");
  ASSERT_EQ(head.headers.size(), 3u);  // content-type and the two cookie crumbs
  EXPECT_EQ(p.server_side.bodies[1].size(), 100'000u);
  EXPECT_TRUE(p.server_side.ended[1]);

  p.server_side.to_send[1] = "response bytes";
  p.server_side.trailer_fields = {{"grpc-status", "5"}, {"grpc-message", "gone"}};
  ASSERT_TRUE(p.server.respond(1, 200, {{"content-type", "application/grpc"}}, true));
  p.pump();
  EXPECT_EQ(p.client_side.status, 200);
  EXPECT_EQ(p.client_side.body, "response bytes");
  EXPECT_TRUE(p.client_side.ended);
  ASSERT_EQ(p.client_side.trailers.size(), 2u);
  EXPECT_EQ(p.client_side.trailers[0], (std::pair<std::string, std::string>{"grpc-status", "5"}));
  EXPECT_EQ(p.client_side.close_code, 0u);
}

TEST(H2Codec, UnconsumedDataStopsTheClientAfterOneWindow) {
  Pair p;
  p.server_side.consume = false;  // the driver never passed the bytes on
  p.client_side.request_body = std::string(1'000'000, 'w');
  p.client.request(request("POST", "/upload"), true);
  p.pump();
  // One stream window (64 KiB - 1), not the megabyte.
  EXPECT_EQ(p.server_side.bodies[1].size(), 65'535u);
  EXPECT_FALSE(p.server_side.ended[1]);
  p.server.consume(1, 65'535);
  p.pump();
  EXPECT_GT(p.server_side.bodies[1].size(), 65'535u);
}

TEST(H2Codec, TrailersOnlyAnswerEndsTheStreamWithTheHead) {
  Pair p;
  p.client.request(request("GET", "/x"), false);
  p.pump();
  ASSERT_TRUE(p.server.respond(1, 200, {{"grpc-status", "12"}}, false));
  p.pump();
  EXPECT_TRUE(p.client_side.head_end_stream);
  EXPECT_TRUE(p.client_side.ended);
}

TEST(H2Codec, ResetReachesTheClient) {
  Pair p;
  p.client.request(request("GET", "/x"), false);
  p.pump();
  p.server.reset(1, 7);  // REFUSED_STREAM
  p.pump();
  EXPECT_EQ(p.client_side.close_code, 7u);
  EXPECT_FALSE(p.client_side.ended);
}

TEST(H2Codec, FieldBlockRequestsOwnTheirFieldsUntilSent) {
  // The head is encoded when request() is called: the caller's block may change or go as soon
  // as request() returns.
  Pair p;
  for (int round = 0; round < 3; ++round) {
    FieldBlock fields;
    fields.add(":method", "GET");
    fields.add(":authority", "api.example.com");
    const std::string path = "/round/" + std::to_string(round) + std::string(40, 'p');
    fields.add(":path", path);
    fields.add("x-request-id", "id-" + std::to_string(round));
    const int32_t id = p.client.request(fields, "https", false);
    ASSERT_EQ(id, 1 + 2 * round);
    fields.clear();
    fields.add(":method", "PUT");  // what the caller does with its block next
    fields.add(":path", "/elsewhere");
    p.pump();
    const H2RequestHead& head = p.server_side.heads[id];
    EXPECT_EQ(head.method, "GET");
    EXPECT_EQ(head.scheme, "https");
    EXPECT_EQ(head.path, path);
    ASSERT_EQ(head.headers.size(), 1u);
    EXPECT_EQ(head.headers[0].second, "id-" + std::to_string(round));
    ASSERT_TRUE(p.server.respond(id, 204, Fields{}, false));
    p.pump();
    EXPECT_EQ(p.client_side.status, 204);
  }
}

TEST(H2Codec, KeptResponseFieldsAndAHeadQueuedForAResetStream) {
  Pair p;
  p.client.request(request("GET", "/a"), false);
  p.client.request(request("GET", "/b"), false);
  p.pump();
  // Kept storage: sent from where it is.
  const Fields kept = {{"content-type", "text/plain"}, {"x-upstream", "one"}};
  ASSERT_TRUE(
      p.server.respond(1, 200, kept, false, H2ServerSession::FieldStorage::kKeptUntilStreamClose));
  p.pump();
  EXPECT_EQ(p.client_side.status, 200);
  ASSERT_EQ(p.client_side.headers.size(), 2u);
  EXPECT_EQ(p.client_side.headers[1], (std::pair<std::string, std::string>{"x-upstream", "one"}));
  // A head queued for a stream the client resets before it goes is dropped, not sent; its
  // storage may go with the stream.
  auto doomed = std::make_unique<Fields>(Fields{{"x-doomed", "yes"}});
  ASSERT_TRUE(p.server.respond(3, 200, *doomed, false,
                               H2ServerSession::FieldStorage::kKeptUntilStreamClose));
  p.client.reset(3, 8);  // CANCEL
  std::string c2s;
  ASSERT_TRUE(p.client.send(c2s, 1 << 20));
  ASSERT_TRUE(p.server.receive(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(c2s.data()), c2s.size())));
  doomed.reset();
  p.client_side.status = 0;
  p.pump();
  EXPECT_EQ(p.client_side.status, 0);
}

TEST(H2Codec, FieldsNewInEveryMessageReferToASeededName) {
  // The first head of the session enters x-envoy-upstream-service-time into the dynamic table;
  // the next ones send it without indexing but refer to that entry for the name.
  Pair p;
  for (int i = 0; i < 3; ++i) p.client.request(request("GET", "/x"), false);
  p.pump();
  std::vector<size_t> sizes;
  for (int32_t id : {1, 3, 5}) {
    const std::string took = std::to_string(id);
    ASSERT_TRUE(p.server.respond(id, 200, {{"x-envoy-upstream-service-time", took}}, false));
    std::string out;
    ASSERT_TRUE(p.server.send(out, 1 << 20));
    sizes.push_back(out.size());
    ASSERT_TRUE(p.client.receive(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size())));
    ASSERT_EQ(p.client_side.headers.size(), 1u);
    EXPECT_EQ(p.client_side.headers[0].second, took);
  }
  // A 9-byte frame header, :status, the name's index and the value: no name.
  EXPECT_GT(sizes[0], 9u + 20);
  EXPECT_LT(sizes[1], 9u + 8);
  EXPECT_LT(sizes[2], 9u + 8);
}

TEST(H2Codec, AHeadLargerThanAFrameGoesAsHeadersAndContinuation) {
  Pair p;
  p.client.request(request("GET", "/x"), false);
  p.pump();
  const std::string big(40'000, 'v');
  ASSERT_TRUE(p.server.respond(1, 200, {{"x-big", big}, {"x-after", "1"}}, false));
  p.pump();
  EXPECT_EQ(p.client_side.status, 200);
  ASSERT_EQ(p.client_side.headers.size(), 2u);
  EXPECT_EQ(p.client_side.headers[0].second, big);
  EXPECT_TRUE(p.client_side.ended);
}

TEST(H2Codec, StatusTextIsThreeDigits) {
  EXPECT_EQ(h2StatusText(200), "200");
  EXPECT_EQ(h2StatusText(101), "101");
  EXPECT_EQ(h2StatusText(999), "999");
  EXPECT_EQ(h2StatusText(99), "");
  EXPECT_EQ(h2StatusText(1000), "");
}

TEST(H2Codec, GarbageIsAProtocolError) {
  ServerSide side;
  H2ServerSession server(side, H2Settings{});
  side.session = &server;
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_FALSE(server.receive(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(junk.data()), junk.size())));
  EXPECT_FALSE(server.error().empty());
}

// Raw frames into a server session, and what it answers, frame by frame.
struct Frame {
  uint8_t type;
  uint8_t flags;
  int32_t stream;
  std::string payload;
};

std::string frame(H2FrameType type, uint8_t flags, int32_t stream, std::string_view payload = {}) {
  std::string out;
  h2AppendFrameHeader(out, static_cast<uint32_t>(payload.size()), type, flags, stream);
  out.append(payload);
  return out;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

struct RawServer {
  ServerSide side;
  H2ServerSession server;
  HpackEncoder encoder;
  explicit RawServer(H2Settings settings = H2Settings{}) : server(side, settings) {
    side.session = &server;
    EXPECT_TRUE(feed(std::string(kH2ClientPreface) + frame(H2FrameType::kSettings, 0, 0)));
    frames();  // our SETTINGS, WINDOW_UPDATE and the ACK
  }
  bool feed(std::string_view bytes) {
    return server.receive(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }
  std::string block(const Fields& fields) {
    std::vector<HpackField> f;
    for (const auto& [n, v] : fields) f.push_back({n, v});
    std::string out;
    encoder.encode(f, out);
    return out;
  }
  std::string head(int32_t id, const Fields& fields, bool end_stream = true) {
    return frame(H2FrameType::kHeaders, kH2FlagEndHeaders | (end_stream ? kH2FlagEndStream : 0), id,
                 block(fields));
  }
  std::vector<Frame> frames() {
    std::string out;
    EXPECT_TRUE(server.send(out, 1 << 20));
    std::vector<Frame> got;
    for (size_t i = 0; i + 9 <= out.size();) {
      const H2FrameHeader h = h2ParseFrameHeader(reinterpret_cast<const uint8_t*>(out.data() + i));
      got.push_back({h.type, h.flags, h.stream_id, out.substr(i + 9, h.length)});
      i += 9 + h.length;
    }
    return got;
  }
};

uint32_t codeOf(const std::vector<Frame>& frames, H2FrameType type, int32_t stream = 0) {
  for (const Frame& f : frames) {
    if (f.type != static_cast<uint8_t>(type) || f.stream != stream) continue;
    const size_t at = type == H2FrameType::kGoAway ? 4 : 0;
    return h2Read32(reinterpret_cast<const uint8_t*>(f.payload.data() + at));
  }
  return 0xffffffffu;
}

Fields get(std::string path = "/") {
  return {{":method", "GET"}, {":scheme", "http"}, {":authority", "a.example"}, {":path", path}};
}

TEST(H2Protocol, FramesSplitAnywhereMakeTheSameRequest) {
  RawServer r;
  const std::string bytes = r.head(1, get("/split"));
  for (char c : bytes) ASSERT_TRUE(r.feed(std::string_view(&c, 1)));
  EXPECT_EQ(r.side.heads[1].path, "/split");
  EXPECT_TRUE(r.side.ended[1]);
}

TEST(H2Protocol, DataOnStreamZeroIsAConnectionError) {
  RawServer r;
  EXPECT_FALSE(r.feed(frame(H2FrameType::kData, 0, 0, "x")));
  EXPECT_EQ(codeOf(r.frames(), H2FrameType::kGoAway), kH2ProtocolError);
  EXPECT_FALSE(r.server.wantsRead());
  EXPECT_FALSE(r.server.wantsWrite());
}

TEST(H2Protocol, SettingsAndPingOnAStreamAreConnectionErrors) {
  RawServer a;
  EXPECT_FALSE(a.feed(frame(H2FrameType::kSettings, 0, 1)));
  EXPECT_EQ(codeOf(a.frames(), H2FrameType::kGoAway), kH2ProtocolError);
  RawServer b;
  EXPECT_FALSE(b.feed(frame(H2FrameType::kPing, 0, 3, "12345678")));
  EXPECT_EQ(codeOf(b.frames(), H2FrameType::kGoAway), kH2ProtocolError);
}

TEST(H2Protocol, FirstFrameMustBeSettings) {
  ServerSide side;
  H2ServerSession server(side, H2Settings{});
  const std::string bytes =
      std::string(kH2ClientPreface) + frame(H2FrameType::kPing, 0, 0, "12345678");
  EXPECT_FALSE(server.receive(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
}

TEST(H2Protocol, ContinuationIsJoinedAndMayNotBeInterrupted) {
  RawServer r;
  const std::string b = r.block(get("/joined"));
  ASSERT_TRUE(r.feed(frame(H2FrameType::kHeaders, kH2FlagEndStream, 1, b.substr(0, 2)) +
                     frame(H2FrameType::kContinuation, 0, 1, b.substr(2, 3)) +
                     frame(H2FrameType::kContinuation, kH2FlagEndHeaders, 1, b.substr(5))));
  EXPECT_EQ(r.side.heads[1].path, "/joined");

  const std::string c = r.block(get("/cut"));
  EXPECT_FALSE(r.feed(frame(H2FrameType::kHeaders, kH2FlagEndStream, 3, c.substr(0, 2)) +
                      frame(H2FrameType::kPing, 0, 0, "12345678")));
  EXPECT_EQ(codeOf(r.frames(), H2FrameType::kGoAway), kH2ProtocolError);
  EXPECT_EQ(r.side.heads.count(3), 0u);
}

TEST(H2Protocol, WindowUpdateOverflow) {
  RawServer r;
  // On a stream: that stream is reset, the connection goes on.
  ASSERT_TRUE(
      r.feed(r.head(1, get(), false) + frame(H2FrameType::kWindowUpdate, 0, 1, be32(0x7fffffff))));
  auto got = r.frames();
  EXPECT_EQ(codeOf(got, H2FrameType::kRstStream, 1), kH2FlowControlError);
  EXPECT_EQ(r.side.closed[1], kH2FlowControlError);
  // On the connection: GOAWAY.
  EXPECT_FALSE(r.feed(frame(H2FrameType::kWindowUpdate, 0, 0, be32(0x7fffffff))));
  EXPECT_EQ(codeOf(r.frames(), H2FrameType::kGoAway), kH2FlowControlError);
}

TEST(H2Protocol, StreamsBeyondTheLimitAreRefused) {
  H2Settings settings;
  settings.max_concurrent_streams = 2;
  RawServer r(settings);
  // (One at a time: the blocks must go in the order they were encoded.)
  for (int32_t id : {1, 3, 5}) ASSERT_TRUE(r.feed(r.head(id, get(), false)));
  auto got = r.frames();
  EXPECT_EQ(codeOf(got, H2FrameType::kRstStream, 5), kH2RefusedStream);
  EXPECT_EQ(r.side.heads.size(), 2u);
  // One ends: the next one is served.
  ASSERT_TRUE(r.server.respond(1, 200, Fields{}, false));
  ASSERT_TRUE(r.feed(frame(H2FrameType::kData, kH2FlagEndStream, 1)));
  got = r.frames();
  ASSERT_TRUE(r.feed(r.head(7, get(), false)));
  EXPECT_EQ(r.side.heads.count(7), 1u);
}

// The HPACK decoder takes static table entries as checked (HpackDecoder::FieldCheck): the
// session's check must accept every one of them.
TEST(H2Protocol, EveryStaticTableEntryIsWellFormed) {
  for (size_t i = 1; i <= kHpackStaticEntries; ++i) {
    const HpackField& f = hpackStaticEntry(i);
    EXPECT_TRUE(h2WellFormedField(f.name, f.value)) << i << " " << f.name;
  }
  EXPECT_FALSE(h2WellFormedField("X-Upper", "1"));
  EXPECT_FALSE(h2WellFormedField("x", " padded"));
  EXPECT_FALSE(h2WellFormedField(":", "1"));
}

TEST(H2Protocol, MalformedRequestsAreStreamErrors) {
  const std::vector<Fields> bad = {
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"X-Upper", "1"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"connection", "close"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"keep-alive", "1"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"proxy-connection", "x"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"transfer-encoding", "x"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"upgrade", "h2c"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"te", "gzip"}},
      {{":method", "GET"}, {":path", "/"}},                                   // no :scheme
      {{":scheme", "http"}, {":path", "/"}},                                  // no :method
      {{":method", "GET"}, {"x", "1"}, {":scheme", "http"}, {":path", "/"}},  // pseudo after
      {{":method", "GET"}, {":method", "GET"}, {":scheme", "http"}, {":path", "/"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":status", "200"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"x", "a\r\nb"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", ""}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"content-length", "x"}},
      {{":method", "CONNECT"}, {":scheme", "http"}, {":path", "/"}},
  };
  RawServer r;
  int32_t id = 1;
  // Each twice: first as literals entering the decoder's table, then as references to those
  // entries (a field is not taken as checked just because it is in the table).
  for (int round = 0; round < 2; ++round) {
    for (const Fields& f : bad) {
      ASSERT_TRUE(r.feed(r.head(id, f)));
      EXPECT_EQ(codeOf(r.frames(), H2FrameType::kRstStream, id), kH2ProtocolError) << id;
      EXPECT_EQ(r.side.heads.count(id), 0u);
      id += 2;
    }
  }
  // te: trailers is allowed, and the connection still serves.
  ASSERT_TRUE(r.feed(
      r.head(id, {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"te", "trailers"}})));
  EXPECT_EQ(r.side.heads.count(id), 1u);
}

TEST(H2Protocol, ContentLengthIsCheckedAgainstData) {
  RawServer r;
  Fields post = get();
  post[0].second = "POST";
  post.emplace_back("content-length", "5");
  ASSERT_TRUE(r.feed(r.head(1, post, false) +
                     frame(H2FrameType::kData, kH2FlagEndStream, 1, "0123456789")));
  EXPECT_EQ(codeOf(r.frames(), H2FrameType::kRstStream, 1), kH2ProtocolError);
  EXPECT_EQ(r.side.closed[1], kH2ProtocolError);
  EXPECT_TRUE(r.side.bodies[1].empty());
  // Too short at the end: likewise.
  ASSERT_TRUE(
      r.feed(r.head(3, post, false) + frame(H2FrameType::kData, kH2FlagEndStream, 3, "01")));
  EXPECT_EQ(codeOf(r.frames(), H2FrameType::kRstStream, 3), kH2ProtocolError);
  // Exact: fine.
  ASSERT_TRUE(
      r.feed(r.head(5, post, false) + frame(H2FrameType::kData, kH2FlagEndStream, 5, "01234")));
  EXPECT_EQ(r.side.bodies[5], "01234");
  EXPECT_TRUE(r.side.ended[5]);
}

TEST(H2Protocol, PingIsAnsweredAndGoAwayNamesTheLastStream) {
  RawServer r;
  ASSERT_TRUE(r.feed(frame(H2FrameType::kPing, 0, 0, "abcdefgh") + r.head(5, get())));
  auto got = r.frames();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].type, static_cast<uint8_t>(H2FrameType::kPing));
  EXPECT_EQ(got[0].flags, kH2FlagAck);
  EXPECT_EQ(got[0].payload, "abcdefgh");
  r.server.goAway();
  got = r.frames();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(h2Read32(reinterpret_cast<const uint8_t*>(got[0].payload.data())), 5u);
  // A stream opened after it is refused.
  ASSERT_TRUE(r.feed(r.head(7, get())));
  EXPECT_EQ(codeOf(r.frames(), H2FrameType::kRstStream, 7), kH2RefusedStream);
  EXPECT_EQ(r.side.heads.count(7), 0u);
}

TEST(H2Protocol, OversizedFrameAndIdleStreamFrames) {
  RawServer a;
  std::string big = frame(H2FrameType::kData, 0, 1, std::string(16385, 'x'));
  EXPECT_FALSE(a.feed(big.substr(0, 9)));
  EXPECT_EQ(codeOf(a.frames(), H2FrameType::kGoAway), kH2FrameSizeError);
  RawServer b;
  EXPECT_FALSE(b.feed(frame(H2FrameType::kData, 0, 9, "x")));  // never opened
  EXPECT_EQ(codeOf(b.frames(), H2FrameType::kGoAway), kH2ProtocolError);
  RawServer c;
  EXPECT_FALSE(c.feed(frame(H2FrameType::kRstStream, 0, 11, be32(8))));
  EXPECT_EQ(codeOf(c.frames(), H2FrameType::kGoAway), kH2ProtocolError);
}

TEST(H2Protocol, PriorityIsIgnoredUnlessMalformed) {
  RawServer r;
  ASSERT_TRUE(r.feed(frame(H2FrameType::kPriority, 0, 1, be32(0) + "\x10") + r.head(1, get())));
  EXPECT_EQ(r.side.heads.count(1), 1u);
  ASSERT_TRUE(r.feed(frame(H2FrameType::kPriority, 0, 3, "abc")));
  EXPECT_EQ(codeOf(r.frames(), H2FrameType::kRstStream, 3), kH2FrameSizeError);
}

TEST(H2Protocol, InitialWindowChangesApplyToOpenStreams) {
  RawServer r;
  ASSERT_TRUE(r.feed(r.head(1, get())));
  r.side.to_send[1] = std::string(100'000, 'b');
  ASSERT_TRUE(r.server.respond(1, 200, Fields{}, true));
  size_t data = 0;
  for (const Frame& f : r.frames()) {
    if (f.type == static_cast<uint8_t>(H2FrameType::kData)) data += f.payload.size();
  }
  EXPECT_EQ(data, 65'535u);  // the default windows
  // More connection window, and a larger stream window by SETTINGS.
  const std::string setting = std::string("\x00\x04", 2) + be32(200'000);
  ASSERT_TRUE(r.feed(frame(H2FrameType::kWindowUpdate, 0, 0, be32(1'000'000)) +
                     frame(H2FrameType::kSettings, 0, 0, setting)));
  data = 0;
  bool ended = false;
  for (const Frame& f : r.frames()) {
    if (f.type == static_cast<uint8_t>(H2FrameType::kData)) {
      data += f.payload.size();
      ended = ended || (f.flags & kH2FlagEndStream) != 0;
    }
  }
  EXPECT_EQ(data, 100'000u - 65'535u);
  EXPECT_TRUE(ended);
  EXPECT_EQ(r.side.closed.count(1), 1u);
}

TEST(H2Protocol, H2cUpgradeMakesStreamOne) {
  ServerSide side;
  H2ServerSession server(side, H2Settings{});
  side.session = &server;
  const std::string settings = std::string("\x00\x03", 2) + be32(100);
  ASSERT_TRUE(server.upgrade(settings, false));
  ASSERT_TRUE(server.respond(1, 200, Fields{{"x-up", "1"}}, false));
  const std::string bytes = std::string(kH2ClientPreface) + frame(H2FrameType::kSettings, 0, 0);
  ASSERT_TRUE(server.receive(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
  std::string out;
  ASSERT_TRUE(server.send(out, 1 << 20));
  EXPECT_EQ(side.closed.count(1), 1u);
  EXPECT_FALSE(server.upgrade("12345", false));
}

// Raw frames into a client session with requests open.
struct RawClient {
  ClientSide side;
  H2ClientSession client{side};
  HpackEncoder encoder;
  RawClient() {
    const std::string settings = std::string("\x00\x03", 2) + be32(5);  // 5 streams at once
    EXPECT_TRUE(feed(frame(H2FrameType::kSettings, 0, 0, settings)));
  }
  bool feed(std::string_view bytes) {
    return client.receive(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }
  std::string head(int32_t id, const Fields& fields, bool end_stream) {
    std::vector<HpackField> f;
    for (const auto& [n, v] : fields) f.push_back({n, v});
    std::string block;
    encoder.encode(f, block);
    return frame(H2FrameType::kHeaders, kH2FlagEndHeaders | (end_stream ? kH2FlagEndStream : 0), id,
                 block);
  }
  std::string sent() {
    std::string out;
    EXPECT_TRUE(client.send(out, 1 << 20));
    return out;
  }
};

TEST(H2ClientProtocol, SettingsInterimHeadsAndContentLength) {
  RawClient r;
  EXPECT_EQ(r.client.maxStreams(), 5u);
  ASSERT_EQ(r.client.request(request("GET", "/a"), false), 1);
  r.sent();
  // 103 is dropped; the final head and its body follow.
  ASSERT_TRUE(r.feed(r.head(1, {{":status", "103"}, {"link", "</x>"}}, false)));
  EXPECT_EQ(r.side.status, 0);
  ASSERT_TRUE(r.feed(r.head(1, {{":status", "200"}, {"content-length", "3"}}, false) +
                     frame(H2FrameType::kData, kH2FlagEndStream, 1, "abc")));
  EXPECT_EQ(r.side.status, 200);
  EXPECT_EQ(r.side.body, "abc");
  EXPECT_TRUE(r.side.ended);
  r.sent();
  EXPECT_EQ(r.side.close_code, 0u);
  // A body longer than its content-length: the stream is reset.
  ASSERT_EQ(r.client.request(request("GET", "/b"), false), 3);
  r.sent();
  ASSERT_TRUE(r.feed(r.head(3, {{":status", "200"}, {"content-length", "1"}}, false) +
                     frame(H2FrameType::kData, kH2FlagEndStream, 3, "abc")));
  r.sent();
  EXPECT_EQ(r.side.close_code, kH2ProtocolError);
  // HEAD: a content-length and no body is fine.
  r.side.ended = false;
  ASSERT_EQ(r.client.request(request("HEAD", "/c"), false), 5);
  r.sent();
  ASSERT_TRUE(r.feed(r.head(5, {{":status", "200"}, {"content-length", "10"}}, true)));
  EXPECT_TRUE(r.side.ended);
  EXPECT_TRUE(r.side.head_end_stream);
}

TEST(H2ClientProtocol, GoAwayRefusesTheStreamsAboveItsLastId) {
  RawClient r;
  ASSERT_EQ(r.client.request(request("GET", "/a"), false), 1);
  ASSERT_EQ(r.client.request(request("GET", "/b"), false), 3);
  r.sent();
  ASSERT_TRUE(r.feed(frame(H2FrameType::kGoAway, 0, 0, be32(1) + be32(0))));
  EXPECT_TRUE(r.client.goingAway());
  EXPECT_EQ(r.side.close_code, kH2RefusedStream);  // stream 3
  EXPECT_LT(r.client.request(request("GET", "/c"), false), 0);
  // Stream 1 is still answered.
  r.side.close_code = 99;
  ASSERT_TRUE(r.feed(r.head(1, {{":status", "204"}}, true)));
  EXPECT_EQ(r.side.status, 204);
  r.sent();
  EXPECT_EQ(r.side.close_code, 0u);
  EXPECT_FALSE(r.client.wantsRead());
}

TEST(H2ClientProtocol, MalformedResponsesAndPushAreRefused) {
  RawClient r;
  ASSERT_EQ(r.client.request(request("GET", "/a"), false), 1);
  r.sent();
  ASSERT_TRUE(r.feed(r.head(1, {{"x", "1"}}, true)));  // no :status
  r.sent();
  EXPECT_EQ(r.side.close_code, kH2ProtocolError);
  EXPECT_EQ(r.side.status, 0);
  EXPECT_FALSE(r.feed(frame(H2FrameType::kPushPromise, kH2FlagEndHeaders, 1, be32(2))));
}

struct HeadSink final : H2ResponseEncoder::Sink {
  int heads = 0;
  bool body = false;
  void onResponseHead(H2ResponseEncoder&, bool b) override {
    ++heads;
    body = b;
  }
};

TEST(H2ResponseEncoderTest, DropsConnectionSpecificFieldsAndSkipsInterimHeads) {
  H2ResponseEncoder e(false, false);
  HeadSink sink;
  e.setSink(&sink);
  std::string out;
  e.beginHead(100, {}, out);
  e.endHead({}, out);
  EXPECT_EQ(sink.heads, 0);
  e.beginHead(200, "OK", out);
  e.header("connection", "keep-alive", out);
  e.header("transfer-encoding", "chunked", out);
  e.header("x-a", "1", out);
  e.endHead(ResponseFraming{.body = BodyKind::kChunked}, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sink.heads, 1);
  EXPECT_TRUE(sink.body);
  ASSERT_EQ(e.headers().size(), 1u);
  EXPECT_EQ(e.headers().name(0), "x-a");
  EXPECT_TRUE(e.data(10).prefix.empty());
}

TEST(H2ResponseEncoderTest, ContentLengthAndBodilessAnswers) {
  H2ResponseEncoder e(false, true);  // HEAD
  HeadSink sink;
  e.setSink(&sink);
  std::string out;
  e.beginHead(200, {}, out);
  e.endHead(ResponseFraming{.body = BodyKind::kContentLength, .content_length = 5}, out);
  EXPECT_FALSE(sink.body);
}

TEST(H2ResponseEncoderTest, LocalReplyToGrpcIsTrailersOnly) {
  H2ResponseEncoder e(true, false);
  HeadSink sink;
  e.setSink(&sink);
  std::string out;
  e.localReply();
  e.beginHead(404, {}, out);
  e.header("content-type", "text/plain", out);
  e.header("x-halyard-reason", "no route for host nowhere: 100% sure", out);
  e.endHead(ResponseFraming{.body = BodyKind::kContentLength, .content_length = 30}, out);
  EXPECT_EQ(e.status(), 200);
  EXPECT_FALSE(sink.body);
  std::map<std::string, std::string> h;
  for (size_t i = 0; i < e.headers().size(); ++i) {
    h[std::string(e.headers().name(i))] = e.headers().value(i);
  }
  EXPECT_EQ(h["content-type"], "application/grpc");
  EXPECT_EQ(h["grpc-status"], "12");  // UNIMPLEMENTED
  EXPECT_EQ(h["grpc-message"], "no route for host nowhere: 100%25 sure");
  EXPECT_EQ(e.grpcStatus(), "12");
}

TEST(H2ResponseEncoderTest, GrpcStatusOfAFaultAbortWins) {
  H2ResponseEncoder e(true, false);
  std::string out;
  e.localReply();
  e.beginHead(503, {}, out);
  e.header("grpc-status", "8", out);
  e.endHead({}, out);
  EXPECT_EQ(e.grpcStatus(), "8");
}

TEST(H2ResponseEncoderTest, HttpToGrpcStatusAsEnvoy) {
  EXPECT_EQ(grpcStatusForHttp(400), "13");
  EXPECT_EQ(grpcStatusForHttp(401), "16");
  EXPECT_EQ(grpcStatusForHttp(403), "7");
  EXPECT_EQ(grpcStatusForHttp(404), "12");
  EXPECT_EQ(grpcStatusForHttp(429), "14");
  EXPECT_EQ(grpcStatusForHttp(503), "14");
  EXPECT_EQ(grpcStatusForHttp(504), "14");
  EXPECT_EQ(grpcStatusForHttp(500), "2");
}

}  // namespace
}  // namespace halyard::proxy::http
