// Reads one message body from a connection buffer and its socket, whatever the framing
// (Content-Length, chunked, or until close for responses), handing out the body bytes as views
// into the buffer: nothing is copied, and at most one buffer's worth is held, so a body of any
// size flows in bounded memory. Used for request bodies (downstream) and response bodies
// (upstream) alike.
//
// Framing bytes never leave the reader: chunked bodies come out decoded, so the writer on the
// other side re-frames them (and a smuggling attempt hidden in chunk syntax cannot pass through).
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http/chunked_decoder.h"
#include "proxy/http/h1_types.h"
#include "proxy/net/awaitable.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/op_timer.h"
#include "proxy/runtime/io_ops.h"

namespace halyard::proxy::runtime {

enum class BodyError : uint8_t {
  kNone,
  kTimeout,    // the deadline passed
  kClosed,     // the peer closed or reset before the body ended
  kMalformed,  // chunked framing error: malformedError()
};

struct BodyRead {
  std::string_view data;  // empty with kNone: the body is complete
  BodyError error = BodyError::kNone;
};

class BodyReader {
 public:
  // `mark`: the buffer offset reads restart at once the buffered bytes are consumed (the end of
  // a request head, which must stay in place). `unframed`: the transport carries the body bytes
  // as they are (an HTTP/2 stream's DATA through a net::MemoryPipe): a chunked body is then
  // read until the end of the stream, with no chunk syntax, and still reported as chunked (what
  // the upstream gets when the length is unknown).
  void start(const http::BodyFraming& framing, size_t mark, bool unframed = false);

  bool done() const { return done_; }
  bool started() const { return started_; }  // some body byte was handed out (or read)
  uint64_t bytesRead() const { return bytes_; }
  const http::ChunkedDecoder& decoder() const { return chunked_; }
  http::BodyKind kind() const { return framing_.kind; }
  // Content-Length bodies: what is still to come.
  uint64_t remaining() const { return remaining_; }

  // The next body bytes, valid until the next call; an empty view once the body is complete.
  net::awaitable<BodyRead> next(net::Transport& transport, net::ByteBuffer& buffer,
                                net::OpTimer& timer, Clock::time_point deadline);
  // next() when it needs no wait (bytes buffered, the body complete, or an in-memory transport
  // with input): true with the result in `out`, and no coroutine frame; false when next() is
  // to be awaited.
  bool nextNow(net::Transport& transport, net::ByteBuffer& buffer, BodyRead& out);

  // Body bytes already in the buffer, without reading: for Content-Length bodies the caller may
  // send them together with a head.
  std::string_view takeBuffered(net::ByteBuffer& buffer);

 private:
  std::string_view fromBuffer(net::ByteBuffer& buffer, BodyError& error);
  // The most to read next (a Content-Length body never reads past its end).
  size_t readLimit() const;
  // After a read: true with `out` when it ends the call (the end of an until-close body, or a
  // failure).
  bool afterRead(const IoResult& r, BodyRead& out);

  http::BodyFraming framing_;
  http::BodyKind read_kind_ = http::BodyKind::kNone;  // how the bytes are read
  uint64_t remaining_ = 0;
  uint64_t bytes_ = 0;
  http::ChunkedDecoder chunked_;
  size_t mark_ = 0;
  bool done_ = true;
  bool started_ = false;
};

}  // namespace halyard::proxy::runtime
