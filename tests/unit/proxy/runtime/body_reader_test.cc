#include "proxy/runtime/body_reader.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <cstring>

namespace halyard::proxy::runtime {
namespace {

using asio::ip::tcp;

// A connected loopback pair: `reader` is read by the BodyReader, `writer` feeds it.
struct Pair {
  Pair()
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        reader(io.get_executor()),
        writer(io) {
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader.socket());
  }
  asio::io_context io;
  tcp::acceptor acceptor;
  net::Transport reader;
  tcp::socket writer;
};

void put(net::ByteBuffer& b, std::string_view s) {
  std::memcpy(b.writable().data(), s.data(), s.size());
  b.commit(s.size());
}

// Reads the whole body; `error` gets the first error.
std::string readAll(Pair& p, BodyReader& reader, net::ByteBuffer& buffer, BodyError& error) {
  std::string body;
  net::OpTimer timer(p.io.get_executor());
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        while (true) {
          const BodyRead r =
              co_await reader.next(p.reader, buffer, timer, Clock::now() + std::chrono::seconds(5));
          if (r.error != BodyError::kNone) {
            error = r.error;
            co_return;
          }
          if (r.data.empty()) co_return;
          body.append(r.data);
        }
      },
      // Stopped at once: the read timer's pending wait (net::OpTimer is lazy) would otherwise
      // keep run() going until its deadline, five seconds a test.
      [&p](std::exception_ptr) { p.io.stop(); });
  p.io.run();
  p.io.restart();
  return body;
}

TEST(BodyReader, ContentLengthStopsAtItsEndAndKeepsPipelinedBytes) {
  Pair p;
  net::ByteBuffer buffer(64);
  put(buffer, "HEADhelGET /next");
  buffer.consume(4);
  BodyReader reader;
  reader.start({http::BodyKind::kContentLength, 3}, 4);
  BodyError error = BodyError::kNone;
  EXPECT_EQ(readAll(p, reader, buffer, error), "hel");
  EXPECT_EQ(error, BodyError::kNone);
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(buffer.readableView(), "GET /next");
}

TEST(BodyReader, ContentLengthReadsTheRestFromTheSocketInBoundedPieces) {
  Pair p;
  net::ByteBuffer buffer(32);  // 4 bytes of head, 28 of window
  put(buffer, "HEADab");
  buffer.consume(4);
  const std::string rest(1000, 'x');
  asio::write(p.writer, asio::buffer(rest));
  BodyReader reader;
  reader.start({http::BodyKind::kContentLength, 1002}, 4);
  BodyError error = BodyError::kNone;
  EXPECT_EQ(readAll(p, reader, buffer, error), "ab" + rest);
  EXPECT_EQ(std::string_view(buffer.data(), 4), "HEAD");  // the head was never overwritten
  EXPECT_EQ(reader.bytesRead(), 1002u);
}

// An HTTP/2 stream's buffer starts small; a large body grows it after the first full read, so
// that the rest does not go a kilobyte at a time.
TEST(BodyReader, AStreamSizedBufferGrowsForALargeBody) {
  Pair p;
  net::ByteBuffer buffer(net::ByteBuffer::kStreamSize);
  std::string body(20000, 'x');
  for (size_t i = 0; i < body.size(); i += 97) body[i] = static_cast<char>('a' + i % 26);
  asio::write(p.writer, asio::buffer(body));
  BodyReader reader;
  reader.start({http::BodyKind::kContentLength, body.size()}, 0);
  BodyError error = BodyError::kNone;
  EXPECT_EQ(readAll(p, reader, buffer, error), body);
  EXPECT_EQ(error, BodyError::kNone);
  EXPECT_EQ(buffer.capacity(), net::ByteBuffer::kCommonSize);
}

TEST(BodyReader, ChunkedDecodesAcrossReadsAndLeavesTheNextMessage) {
  Pair p;
  net::ByteBuffer buffer(64);
  put(buffer, "5\r\nhel");
  asio::write(p.writer, asio::buffer(std::string("lo\r\n6\r\n world\r\n0\r\n\r\nNEXT")));
  BodyReader reader;
  reader.start({http::BodyKind::kChunked, 0}, 0);
  BodyError error = BodyError::kNone;
  EXPECT_EQ(readAll(p, reader, buffer, error), "hello world");
  EXPECT_EQ(error, BodyError::kNone);
  EXPECT_EQ(buffer.readableView(), "NEXT");
}

TEST(BodyReader, MalformedChunkAndEarlyClose) {
  {
    Pair p;
    net::ByteBuffer buffer(64);
    put(buffer, "zz\r\n");
    BodyReader reader;
    reader.start({http::BodyKind::kChunked, 0}, 0);
    BodyError error = BodyError::kNone;
    readAll(p, reader, buffer, error);
    EXPECT_EQ(error, BodyError::kMalformed);
    EXPECT_EQ(reader.decoder().error().status, 400);
  }
  {
    Pair p;
    net::ByteBuffer buffer(64);
    asio::write(p.writer, asio::buffer(std::string("abc")));
    p.writer.close();
    BodyReader reader;
    reader.start({http::BodyKind::kContentLength, 10}, 0);
    BodyError error = BodyError::kNone;
    EXPECT_EQ(readAll(p, reader, buffer, error), "abc");
    EXPECT_EQ(error, BodyError::kClosed);
  }
}

TEST(BodyReader, UntilCloseEndsAtEof) {
  Pair p;
  net::ByteBuffer buffer(64);
  asio::write(p.writer, asio::buffer(std::string("all of it")));
  p.writer.close();
  BodyReader reader;
  reader.start({http::BodyKind::kUntilClose, 0}, 0);
  BodyError error = BodyError::kNone;
  EXPECT_EQ(readAll(p, reader, buffer, error), "all of it");
  EXPECT_EQ(error, BodyError::kNone);
  EXPECT_TRUE(reader.done());
}

TEST(BodyReader, NoBodyAndEmptyLengthAreDoneAtOnce) {
  BodyReader reader;
  reader.start({http::BodyKind::kNone, 0}, 0);
  EXPECT_TRUE(reader.done());
  reader.start({http::BodyKind::kContentLength, 0}, 0);
  EXPECT_TRUE(reader.done());
}

}  // namespace
}  // namespace halyard::proxy::runtime
