#include "proxy/runtime/local_reply.h"

#include <gtest/gtest.h>

#include "proxy/http/h1_response_encoder.h"
#include "proxy/runtime/http_date.h"

namespace halyard::proxy::runtime {
namespace {

std::string render(const LocalReply& reply) {
  std::string out;
  std::vector<http::HeaderView> scratch;
  http::H1ResponseEncoder encoder;
  appendLocalReply(out, reply, scratch, encoder);
  return out;
}

TEST(LocalReply, ErrorCarriesReasonHeaderAndBody) {
  const std::string out =
      render(LocalReply{.status = 404, .reason = "no route for host a path /x"});
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n"
            "x-halyard-reason: no route for host a path /x\r\ncontent-length: 28\r\n\r\n"
            "no route for host a path /x\n");
}

TEST(LocalReply, HeadCloseAndKeepAlive) {
  std::string out =
      render(LocalReply{.status = 503, .reason = "r", .head_request = true, .close = true});
  EXPECT_NE(out.find("content-length: 2\r\n"), std::string::npos);
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
  out = render(LocalReply{.status = 200, .reason = "r", .http10_keep_alive = true});
  EXPECT_NE(out.find("connection: keep-alive\r\n"), std::string::npos);
}

TEST(LocalReply, DirectResponseBodyAndRouteHeaderOps) {
  translate::HeaderOps ops;
  ops.set = {{"content-type", "application/json"}};
  ops.add = {{"x-added", "1"}};
  const std::pair<std::string, std::string> extra[] = {{"location", "http://b/"}};
  const std::string out = render(LocalReply{.status = 302,
                                            .reason = "redirect",
                                            .reason_body = false,
                                            .body = "{}",
                                            .headers = extra,
                                            .route_ops = &ops});
  EXPECT_NE(out.find("content-type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(out.find("text/plain"), std::string::npos);
  EXPECT_NE(out.find("location: http://b/\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-added: 1\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("content-length: 2\r\n\r\n{}"));
}

TEST(LocalReply, NoContentHasNoBodyHeaders) {
  const std::string out = render(LocalReply{.status = 204, .reason = "r"});
  EXPECT_EQ(out.find("content-length"), std::string::npos);
  EXPECT_EQ(out.find("content-type"), std::string::npos);
}

TEST(LocalReply, DateHeaderAndItsFormat) {
  HttpDate date;
  const std::string_view now = date.now();
  ASSERT_EQ(now.size(), 29u);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  EXPECT_EQ(now.substr(3, 2), ", ");
  EXPECT_TRUE(now.ends_with(" GMT"));
  const std::string out = render(LocalReply{.status = 404, .reason = "r", .date = now});
  EXPECT_NE(out.find("\r\ndate: " + std::string(now) + "\r\n"), std::string::npos);
}

}  // namespace
}  // namespace halyard::proxy::runtime
