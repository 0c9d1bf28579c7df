#include "proxy/runtime/body_reader.h"

#include <algorithm>

namespace halyard::proxy::runtime {

void BodyReader::start(const http::BodyFraming& framing, size_t mark, bool unframed) {
  framing_ = framing;
  read_kind_ = unframed && framing.kind == http::BodyKind::kChunked ? http::BodyKind::kUntilClose
                                                                    : framing.kind;
  remaining_ = framing.kind == http::BodyKind::kContentLength ? framing.content_length : 0;
  bytes_ = 0;
  chunked_.reset();
  mark_ = mark;
  started_ = false;
  done_ = framing.kind == http::BodyKind::kNone ||
          (framing.kind == http::BodyKind::kContentLength && remaining_ == 0);
}

std::string_view BodyReader::takeBuffered(net::ByteBuffer& buffer) {
  if (done_ || framing_.kind != http::BodyKind::kContentLength) return {};
  BodyError ignored = BodyError::kNone;
  return fromBuffer(buffer, ignored);
}

// Body bytes from what is buffered; empty when nothing usable is (or the body just ended).
std::string_view BodyReader::fromBuffer(net::ByteBuffer& buffer, BodyError& error) {
  const std::string_view avail = buffer.readableView();
  if (avail.empty()) return {};
  switch (read_kind_) {
    case http::BodyKind::kNone:
      return {};
    case http::BodyKind::kContentLength: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(avail.size(), remaining_));
      buffer.consume(n);
      remaining_ -= n;
      bytes_ += n;
      started_ = true;
      if (remaining_ == 0) done_ = true;
      return avail.substr(0, n);
    }
    case http::BodyKind::kUntilClose:
      buffer.consume(avail.size());
      bytes_ += avail.size();
      started_ = true;
      return avail;
    case http::BodyKind::kChunked: {
      std::span<const char> input(avail.data(), avail.size());
      while (!input.empty()) {
        const http::ChunkedStep step = chunked_.decode(input);
        input = input.subspan(step.consumed);
        buffer.consume(step.consumed);
        started_ = true;
        switch (step.status) {
          case http::ChunkedStatus::kData:
            bytes_ += step.data.size();
            return step.data;
          case http::ChunkedStatus::kDone:
            done_ = true;
            return {};
          case http::ChunkedStatus::kError:
            error = BodyError::kMalformed;
            return {};
          case http::ChunkedStatus::kNeedMore:
            break;
        }
      }
      return {};
    }
  }
  return {};
}

size_t BodyReader::readLimit() const {
  return read_kind_ == http::BodyKind::kContentLength
             ? static_cast<size_t>(std::min<uint64_t>(remaining_, SIZE_MAX))
             : SIZE_MAX;
}

bool BodyReader::afterRead(const IoResult& r, BodyRead& out) {
  if (r.timed_out) {
    out = BodyRead{{}, BodyError::kTimeout};
    return true;
  }
  if (r.eof() && read_kind_ == http::BodyKind::kUntilClose) {
    done_ = true;
    out = BodyRead{};
    return true;
  }
  if (!r.ok()) {
    out = BodyRead{{}, BodyError::kClosed};
    return true;
  }
  return false;
}

bool BodyReader::nextNow(net::Transport& transport, net::ByteBuffer& buffer, BodyRead& out) {
  while (!done_) {
    BodyError error = BodyError::kNone;
    const std::string_view data = fromBuffer(buffer, error);
    if (error != BodyError::kNone || !data.empty()) {
      out = BodyRead{data, error};
      return true;
    }
    if (done_) break;
    // Everything buffered is consumed: read again from the mark. A Content-Length body never
    // reads past its end, so pipelined bytes that follow stay in the socket.
    buffer.rewindTo(mark_);
    if (!transport.readsAtOnce()) return false;
    auto space = buffer.writable();
    auto [ec, n] =
        transport.readNow(asio::buffer(space.data(), std::min(space.size(), readLimit())));
    if (!ec) {
      buffer.commit(n);
      buffer.growAfterFullRead();
    }
    if (afterRead(IoResult{ec, n, false}, out)) return true;
  }
  out = BodyRead{};
  return true;
}

net::awaitable<BodyRead> BodyReader::next(net::Transport& transport, net::ByteBuffer& buffer,
                                          net::OpTimer& timer, Clock::time_point deadline) {
  BodyRead out;
  while (!nextNow(transport, buffer, out)) {
    const IoResult r = co_await readSome(transport, buffer, timer, deadline, readLimit());
    if (afterRead(r, out)) co_return out;
    buffer.growAfterFullRead();
  }
  co_return out;
}

}  // namespace halyard::proxy::runtime
