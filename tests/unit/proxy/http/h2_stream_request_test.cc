// An HTTP/2 stream's head as the request path's RequestHead (http/h2_stream_request.h), and the
// field list the request path hands an HTTP/2 upstream (http/field_block.h).
#include "proxy/http/h2_stream_request.h"

#include <gtest/gtest.h>

#include "proxy/http/field_block.h"

namespace halyard::proxy::http {
namespace {

H2RequestHead head(Fields fields) {
  H2RequestHead h;
  h.method = "POST";
  h.scheme = "http";
  h.authority = "shop.example.com:8080";
  h.path = "/cart/items?id=42";
  h.headers = std::move(fields);
  return h;
}

TEST(H2StreamRequest, PseudoHeadersBecomeTheRequestLineAndHost) {
  H2StreamRequest r;
  prepareStreamRequest(r, head({{"user-agent", "grpc-python/1.0"}, {"accept", "*/*"}}));
  const RequestHead& h = r.head;
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.path, "/cart/items?id=42");
  EXPECT_EQ(h.target, "/cart/items?id=42");
  EXPECT_EQ(h.authority, "shop.example.com:8080");
  EXPECT_EQ(h.host, "shop.example.com:8080");
  EXPECT_FALSE(h.keep_alive);  // one request per stream
  EXPECT_EQ(h.head_bytes, 0u);
  const RequestView view = toRequestView(h, "http", 80);
  EXPECT_EQ(view.header("host"), "shop.example.com:8080");
  EXPECT_EQ(view.header("user-agent"), "grpc-python/1.0");
  EXPECT_EQ(view.header("accept"), "*/*");
  EXPECT_GT(r.head_size, h.path.size());
}

TEST(H2StreamRequest, ConnectionSpecificFieldsAndExpectAreLeftOut) {
  H2StreamRequest r;
  prepareStreamRequest(r, head({{"connection", "keep-alive"},
                                {"transfer-encoding", "chunked"},
                                {"upgrade", "websocket"},
                                {"expect", "100-continue"},
                                {"x-kept", "1"}}));
  const RequestView view = toRequestView(r.head, "http", 80);
  EXPECT_FALSE(view.header("connection"));
  EXPECT_FALSE(view.header("transfer-encoding"));
  EXPECT_FALSE(view.header("upgrade"));
  EXPECT_FALSE(view.header("expect"));
  EXPECT_FALSE(r.head.expect_continue);
  EXPECT_EQ(view.header("x-kept"), "1");
}

TEST(H2StreamRequest, CookieCrumbsAreJoined) {
  H2StreamRequest r;
  prepareStreamRequest(r, head({{"cookie", "a=1"}, {"x", "y"}, {"cookie", "b=2"}}));
  const RequestView view = toRequestView(r.head, "http", 80);
  EXPECT_EQ(view.header("cookie"), "a=1; b=2");
  size_t cookies = 0;
  for (const auto& h : r.head.headers) cookies += h.name == "cookie";
  EXPECT_EQ(cookies, 1u);
}

TEST(H2StreamRequest, AuthorityWinsOverHostAndHostStandsInWithout) {
  H2StreamRequest r;
  prepareStreamRequest(r, head({{"host", "other.example.com"}}));
  EXPECT_EQ(r.head.authority, "shop.example.com:8080");
  size_t hosts = 0;
  for (const auto& h : r.head.headers) hosts += h.name == "host";
  EXPECT_EQ(hosts, 1u);

  H2StreamRequest without;
  H2RequestHead h = head({{"host", "other.example.com"}});
  h.authority.clear();
  prepareStreamRequest(without, std::move(h));
  EXPECT_EQ(without.head.authority, "other.example.com");
}

TEST(H2StreamRequest, ContentLengthIsRead) {
  H2StreamRequest r;
  prepareStreamRequest(r, head({{"content-length", "12"}}));
  EXPECT_TRUE(r.has_length);
  EXPECT_EQ(r.length, 12u);
}

TEST(H2StreamRequest, WebSocketConnectIsTheUpgradeItStandsFor) {
  H2RequestHead h = head({{"sec-websocket-version", "13"}});
  h.method = "CONNECT";
  h.protocol = "websocket";
  ASSERT_TRUE(isWebSocketConnect(h));
  H2StreamRequest r;
  prepareStreamRequest(r, std::move(h));
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_TRUE(r.head.upgrade);
  EXPECT_EQ(r.head.upgrade_protocol, "websocket");
  const RequestView view = toRequestView(r.head, "http", 80);
  const auto key = view.header("sec-websocket-key");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->size(), 24u);  // 16 bytes in base64
  EXPECT_TRUE(key->ends_with("=="));
  EXPECT_EQ(view.header("sec-websocket-version"), "13");
}

TEST(H2StreamRequest, OtherConnectsAreNotWebSocket) {
  H2RequestHead h = head({});
  h.method = "CONNECT";
  EXPECT_FALSE(isWebSocketConnect(h));
  h.protocol = "something-else";
  EXPECT_FALSE(isWebSocketConnect(h));
}

TEST(FieldBlock, KeepsFieldsInOrder) {
  FieldBlock block;
  block.add(":method", "GET");
  block.add(":path", "/");
  block.add("x-long-header-name", std::string(100, 'v'));
  ASSERT_EQ(block.size(), 3u);
  EXPECT_EQ(block.name(0), ":method");
  EXPECT_EQ(block.value(0), "GET");
  EXPECT_EQ(block.name(2), "x-long-header-name");
  EXPECT_EQ(block.value(2), std::string(100, 'v'));
  block.clear();
  EXPECT_TRUE(block.empty());
}

}  // namespace
}  // namespace halyard::proxy::http
