// The HTTP/2 codec glue without sockets: a client session and a server session exchange bytes
// in memory (requests, bodies under flow control, trailers, resets), and the response encoder's
// translation of heads and local replies (gRPC trailers-only).
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "proxy/http/h2_client_session.h"
#include "proxy/http/h2_response_encoder.h"
#include "proxy/http/h2_server_session.h"
#include "proxy/http/h2_session_io.h"

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
  void onStreamClose(int32_t, uint32_t) override {}
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
  // nghttp2 sends the head from the stream's own copy: the caller's block may change or go as
  // soon as request() returns, and storage of streams that ended is reused.
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
