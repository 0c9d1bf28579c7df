// The codec's hot path must not allocate once a connection's parser and output buffer exist:
// count global operator new calls around parsing, decoding and writing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "count_allocations.h"
#include "proxy/http/chunked_decoder.h"
#include "proxy/http/h1_request_parser.h"
#include "proxy/http/h1_response_parser.h"
#include "proxy/http/h1_writer.h"

namespace halyard::proxy::http {
namespace {

TEST(NoAlloc, ParseDecodeAndWrite) {
  std::string request =
      "POST http://shop.example.com/cart/items?id=42 HTTP/1.1\r\nHost: shop.example.com\r\n"
      "User-Agent: test\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n"
      "Connection: keep-alive\r\nX-Request-Id: 0123456789abcdef\r\n\r\n"
      "5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
  const std::string request_copy = request;
  const std::string response_copy = response;
  RequestParser request_parser;
  ResponseParser response_parser;
  ChunkedDecoder decoder;
  std::string out;
  out.reserve(4096);

  // The parsers reserve their header arrays at their first head: one of each first.
  {
    std::string warm_request = request_copy;
    std::string warm_response = response_copy;
    ASSERT_EQ(request_parser.feed(std::span<char>(warm_request.data(), warm_request.size())),
              ParseStatus::kHeadComplete);
    response_parser.reset("POST");
    ASSERT_EQ(response_parser.feed(std::span<char>(warm_response.data(), warm_response.size())),
              ParseStatus::kHeadComplete);
  }
  const long before = test_support::allocations();
  size_t body_bytes = 0;
  for (int i = 0; i < 100; ++i) {
    request.assign(request_copy);  // same size: no allocation
    response.assign(response_copy);
    request_parser.reset();
    ASSERT_EQ(request_parser.feed(std::span<char>(request.data(), request.size())),
              ParseStatus::kHeadComplete);
    const RequestHead& head = request_parser.head();
    decoder.reset();
    std::span<const char> body(request.data() + head.head_bytes, request.size() - head.head_bytes);
    while (!decoder.done()) {
      const ChunkedStep step = decoder.decode(body);
      ASSERT_NE(step.status, ChunkedStatus::kError);
      body_bytes += step.data.size();
      body = body.subspan(step.consumed);
    }
    out.clear();
    ASSERT_TRUE(appendRequestHead(out, head.method, head.path, head.headers));
    response_parser.reset(head.method);
    ASSERT_EQ(response_parser.feed(std::span<char>(response.data(), response.size())),
              ParseStatus::kHeadComplete);
    out.clear();
    ASSERT_TRUE(
        appendResponseHead(out, response_parser.head().status, response_parser.head().headers));
  }
  EXPECT_EQ(test_support::allocations() - before, 0);
  EXPECT_EQ(body_bytes, 500u);
}

}  // namespace
}  // namespace halyard::proxy::http
