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

net::awaitable<BodyRead> BodyReader::next(net::Transport& transport, net::ByteBuffer& buffer,
                                          net::OpTimer& timer, Clock::time_point deadline) {
  while (!done_) {
    BodyError error = BodyError::kNone;
    const std::string_view data = fromBuffer(buffer, error);
    if (error != BodyError::kNone) co_return BodyRead{{}, error};
    if (!data.empty()) co_return BodyRead{data, BodyError::kNone};
    if (done_) break;
    // Everything buffered is consumed: read again from the mark. A Content-Length body never
    // reads past its end, so pipelined bytes that follow stay in the socket.
    buffer.rewindTo(mark_);
    const size_t max = read_kind_ == http::BodyKind::kContentLength
                           ? static_cast<size_t>(std::min<uint64_t>(remaining_, SIZE_MAX))
                           : SIZE_MAX;
    const IoResult r = co_await readSome(transport, buffer, timer, deadline, max);
    if (r.timed_out) co_return BodyRead{{}, BodyError::kTimeout};
    if (r.eof() && read_kind_ == http::BodyKind::kUntilClose) {
      done_ = true;
      break;
    }
    if (!r.ok()) co_return BodyRead{{}, BodyError::kClosed};
  }
  co_return BodyRead{};
}

}  // namespace halyard::proxy::runtime
