#include "proxy/upstream/h2_session.h"

#include <algorithm>
#include <asio/detached.hpp>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "proxy/http/h2_client_session.h"
#include "proxy/http/h2_frame.h"
#include "proxy/net/async_event.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/memory_pipe.h"
#include "proxy/net/spawn.h"

namespace halyard::proxy::upstream {

namespace {

// What the request path may have written and the server's window not taken yet: a writer
// finding this much queued waits (net/memory_pipe.h).
constexpr size_t kPipeCapacity = 64 * 1024;
constexpr size_t kMaxPending = 64 * 1024;  // request body bytes waiting for the server's window
constexpr size_t kMaxWrite = 64 * 1024;
// Finished streams' connections a shared connection keeps for its next streams while it has
// streams in flight.
constexpr size_t kSpareStreams = 64;

class H2Session;

// One request on the shared connection, and the driver's side of the pipe the request path
// writes the request body into and reads the response body from, both unframed.
struct H2UpStream final : net::MemoryPipe::Driver {
  H2UpStream(H2Session& s, common::LocalShared<net::MemoryPipe> p)
      : session(&s), pipe(std::move(p)) {}

  void onPipeRead(size_t bytes) override;
  void onPipeOutput() override;

  H2Session* session;
  int32_t id = -1;
  common::LocalShared<net::MemoryPipe> pipe;
  bool head_method = false;  // a HEAD request: its response has no body
  common::LocalShared<H2Exchange> exchange;
  common::LocalShared<const http::Fields> request_trailers;  // sent after the body, if any
  bool head_delivered = false;
  // Request direction: the body's framing as the request path announced it, and body bytes
  // taken from the pipe, waiting for the server's window.
  bool head_done = false;
  bool has_body = false;
  http::BodyFraming framing;
  uint64_t remaining = 0;
  std::string body;
  size_t body_offset = 0;
  bool body_ended = false;
  // Response direction: DATA bytes in the pipe not yet returned to the server's window.
  size_t unconsumed = 0;
  bool relay_data = false;  // the response has a body: its DATA goes into the pipe
  bool response_ended = false;
  bool closed = false;
  size_t pending() const { return body.size() - body_offset; }
};

class H2Session final : public http::H2ClientSession::Handler,
                        public common::EnableLocalSharedFromThis<H2Session> {
 public:
  // A session for connections made with transport settings `key`, connecting until attach()
  // or fail(): requests that arrive meanwhile wait for it rather than open connections of
  // their own.
  H2Session(const asio::any_io_executor& executor, uint64_t key, bool tls)
      : executor_(executor),
        codec_(*this),
        want_write_(executor_),
        writer_done_(executor_),
        ready_(executor_),
        key_(key),
        tls_(tls) {}

  void attach(std::unique_ptr<UpstreamConnection> c) {
    c_ = std::move(c);
    connecting_ = false;
    ready_.set();
    start();
  }
  void fail(common::Error error) {
    error_ = std::move(error);
    connecting_ = false;
    closed_ = true;
    ready_.set();
  }
  bool connecting() const { return connecting_; }
  asio::awaitable<void> waitReady() { co_await ready_.wait(); }
  const common::Error& error() const { return error_; }
  uint64_t key() const { return key_; }

  bool usable(uint64_t key) const {
    return !connecting_ && !closed_ && !codec_.goingAway() && key == key_ &&
           streams_.size() + pending_.size() < std::min<uint32_t>(codec_.maxStreams(), 1000);
  }
  bool finished() const {
    return !connecting_ && (closed_ || (codec_.goingAway() && streams_.empty()));
  }
  const std::string& peerPrincipal() const {
    static const std::string kNone;
    return c_ ? c_->peerPrincipal() : kNone;
  }

  void start() {
    net::spawnDetached(executor_, readLoop(shared_from_this()));
    net::spawnDetached(executor_, writeLoop(shared_from_this()));
  }
  // Adds a stream for the request the request path is about to start (startRequestDirect).
  void open(common::LocalShared<net::MemoryPipe> pipe, common::LocalShared<H2Exchange> exchange) {
    if (closed_) {
      pipe->closeDriverSide();
      return;
    }
    auto s = std::make_unique<H2UpStream>(*this, pipe);
    exchange->stream = s.get();
    exchange->session = weak_from_this();
    s->exchange = std::move(exchange);
    pipe->setDriver(s.get());
    pending_.push_back(std::move(s));
  }
  // A finished stream's connection for the next stream (or null), and one given back.
  // A finished stream's request-path side, with its pipe and exchange: both are reset and
  // serve the next stream when nothing else holds them any more (the stream's driver state
  // went with the stream), saving their allocations and buffers.
  struct Spare {
    std::unique_ptr<UpstreamConnection> connection;
    common::LocalShared<net::MemoryPipe> pipe;
    common::LocalShared<H2Exchange> exchange;
  };
  Spare takeSpare() {
    if (spare_.empty()) return {};
    Spare spare = std::move(spare_.back());
    spare_.pop_back();
    return spare;
  }
  void keepSpare(std::unique_ptr<UpstreamConnection> c) {
    common::LocalShared<net::MemoryPipe> pipe = c->transport().pipe();
    c->transport().usePipe(nullptr);  // closes the request path's side
    common::LocalShared<H2Exchange> exchange = std::move(c->h2);
    if (!closed_ && spare_.size() < kSpareStreams) {
      spare_.push_back(Spare{std::move(c), std::move(pipe), std::move(exchange)});
    }
  }

  // The request head as fields; false when the stream is gone.
  bool startRequestDirect(H2UpStream& s, const http::FieldBlock& fields,
                          const http::BodyFraming& framing,
                          common::LocalShared<const http::Fields> trailers);

  // From the stream's pipe.
  void streamOutput(H2UpStream& s);
  void streamRead(H2UpStream& s, size_t bytes);

  // http::H2ClientSession::Handler
  void onResponseHead(int32_t id, uint16_t status, http::FieldBlock& headers, bool end) override;
  void onResponseData(int32_t id, std::span<const uint8_t> data) override;
  void onResponseEnd(int32_t id, http::Fields trailers) override;
  void onStreamClose(int32_t id, uint32_t error_code) override;
  long readBody(int32_t id, uint8_t* out, size_t max, bool& end) override;
  const http::Fields* requestTrailers(int32_t id) override {
    H2UpStream* s = find(id);
    return s ? s->request_trailers.get() : nullptr;
  }

 private:
  H2UpStream* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  void kick() { want_write_.set(); }
  void endStream(H2UpStream& s);
  // Ends a stream whose head never became an HTTP/2 request; `s` is gone after.
  void dropPending(H2UpStream& s);
  // After the codec took (id > 0) or refused a stream's head: the stream moves from pending to
  // open, or is dropped. The result of a start.
  bool submitted(H2UpStream& s, int32_t id);
  // Moves body bytes from the pipe into the stream's DATA queue, up to kMaxPending.
  void drainBody(H2UpStream& s);
  static asio::awaitable<void> readLoop(common::LocalShared<H2Session> self);
  static asio::awaitable<void> writeLoop(common::LocalShared<H2Session> self);
  void shutdown();

  std::unique_ptr<UpstreamConnection> c_;
  asio::any_io_executor executor_;
  http::H2ClientSession codec_;
  std::unordered_map<int32_t, std::unique_ptr<H2UpStream>> streams_;
  std::vector<std::unique_ptr<H2UpStream>> pending_;  // request not started yet
  std::vector<Spare> spare_;                          // finished streams', for reuse
  net::AsyncEvent want_write_;
  net::AsyncEvent writer_done_;
  net::AsyncEvent ready_;
  std::string out_;
  uint64_t key_;
  bool tls_;
  bool connecting_ = true;
  bool closed_ = false;
  common::Error error_;
};

void H2UpStream::onPipeRead(size_t bytes) {
  session->streamRead(*this, bytes);
}

void H2UpStream::onPipeOutput() {
  session->streamOutput(*this);
}

void H2Session::endStream(H2UpStream& s) {
  s.closed = true;
  if (s.exchange) s.exchange->stream = nullptr;
  // A body read to the end of the stream must not look complete when the stream was reset.
  s.pipe->closeDriverSide(s.head_delivered && !s.response_ended);
}

bool H2Session::startRequestDirect(H2UpStream& s, const http::FieldBlock& fields,
                                   const http::BodyFraming& framing,
                                   common::LocalShared<const http::Fields> trailers) {
  if (closed_ || s.closed || s.head_done || fields.empty()) return false;
  s.request_trailers = std::move(trailers);
  s.head_method = fields.value(0) == "HEAD";  // :method comes first
  s.framing = framing;
  s.remaining = framing.content_length;
  s.has_body = framing.kind == http::BodyKind::kChunked ||
               (framing.kind == http::BodyKind::kContentLength && framing.content_length > 0);
  return submitted(s, codec_.request(fields, tls_ ? "https" : "http", s.has_body));
}

bool H2Session::submitted(H2UpStream& s, int32_t id) {
  s.id = id;
  if (s.id < 0) {
    dropPending(s);
    return false;
  }
  s.head_done = true;
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&s](const std::unique_ptr<H2UpStream>& p) { return p.get() == &s; });
  streams_.emplace(s.id, std::move(*it));
  pending_.erase(it);
  kick();
  return true;
}

void H2Session::dropPending(H2UpStream& s) {
  endStream(s);
  std::erase_if(pending_, [&s](const std::unique_ptr<H2UpStream>& p) { return p.get() == &s; });
}

void H2Session::shutdown() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, s] : streams_) endStream(*s);
  for (auto& s : pending_) endStream(*s);
  streams_.clear();
  pending_.clear();
  spare_.clear();
  if (c_) c_->transport().cancel();
  kick();
}

void H2Session::streamRead(H2UpStream& s, size_t bytes) {
  if (s.closed || closed_ || s.unconsumed == 0) return;
  // Framing bytes (the head, chunk sizes) are read too: everything once the pipe is empty.
  const size_t credit = s.pipe->inputSize() == 0 ? s.unconsumed : std::min(bytes, s.unconsumed);
  s.unconsumed -= credit;
  codec_.consume(s.id, credit);
  kick();
}

void H2Session::streamOutput(H2UpStream& s) {
  if (s.closed || closed_) return;
  if (!s.head_done) {
    // Nothing is written before the head was started; a request path that gives up first
    // (closes, or ends its output) drops the stream.
    if (s.pipe->requestSideClosed() || s.pipe->outputEnded()) dropPending(s);
    return;
  }
  if (s.pipe->requestSideClosed()) {
    // The request path gave up on the exchange (a timeout, its client left): so does the
    // server. The response bytes it did not read go back to the connection's window.
    if (s.unconsumed > 0) codec_.consume(s.id, s.unconsumed);
    s.unconsumed = 0;
    codec_.reset(s.id, http::kH2Cancel);
    endStream(s);
    kick();
    return;
  }
  drainBody(s);
}

void H2Session::drainBody(H2UpStream& s) {
  if (!s.has_body || s.body_ended) {
    // Nothing more is expected: whatever else comes is not part of the request.
    s.pipe->consumeOutput(s.pipe->output().size());
    return;
  }
  bool done = false;
  bool moved = false;
  while (!done && s.pending() < kMaxPending && !s.pipe->output().empty()) {
    const std::string_view avail = s.pipe->output();
    moved = true;
    if (s.framing.kind == http::BodyKind::kContentLength) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(avail.size(), s.remaining));
      s.body.append(avail.substr(0, take));
      s.pipe->consumeOutput(take);
      s.remaining -= take;
      done = s.remaining == 0;
      continue;
    }
    // Of unknown length: everything written is body, up to the end of the request path's output.
    s.body.append(avail);
    s.pipe->consumeOutput(avail.size());
  }
  if (!done && s.framing.kind == http::BodyKind::kChunked && s.pipe->outputEnded() &&
      !s.pipe->requestSideClosed() && s.pipe->output().empty()) {
    done = true;  // the request path ended its output: the body's end
  }
  if (done) {
    s.body_ended = true;
  } else if (s.pipe->outputEnded() && s.pipe->output().empty()) {
    // The request path stopped in the middle of the body.
    codec_.reset(s.id, http::kH2Cancel);
    endStream(s);
    kick();
    return;
  }
  if (moved || done) {
    codec_.resume(s.id);
    kick();
  }
}

void H2Session::onResponseHead(int32_t id, uint16_t status, http::FieldBlock& headers, bool end) {
  H2UpStream* s = find(id);
  if (!s || s->closed) return;
  {
    // The head as the request path's parser would have made it (upstream/h2_exchange.h).
    H2Exchange& e = *s->exchange;
    const bool bodiless = s->head_method || status == 204 || status == 304;
    std::swap(e.headers, headers);
    e.views.clear();
    e.views.reserve(e.headers.size());
    for (size_t i = 0; i < e.headers.size(); ++i) {
      const std::string_view n = e.headers.name(i);
      if (http::isConnectionSpecific(n)) continue;
      // A body's length is HTTP/2's to frame; what HEAD and 304 describe stays.
      if (n == "content-length" && !bodiless) continue;
      e.views.push_back(http::HeaderView{n, e.headers.value(i)});
    }
    http::ResponseHead& head = e.head;
    head = http::ResponseHead{};
    head.status = status;
    head.headers = e.views;
    head.keep_alive = false;  // one exchange per stream
    // A body runs to the end of the stream; trailers-only (gRPC's errors) has none.
    if (bodiless) {
      head.framing = http::BodyFraming{};
    } else if (end) {
      head.framing = http::BodyFraming{http::BodyKind::kContentLength, 0};
    } else {
      head.framing = http::BodyFraming{http::BodyKind::kUntilClose, 0};
      s->relay_data = true;
    }
    e.head_ready = true;
    s->head_delivered = true;
    s->pipe->notify();
  }
}

void H2Session::onResponseData(int32_t id, std::span<const uint8_t> data) {
  H2UpStream* s = find(id);
  if (!s || s->closed || !s->relay_data) {
    codec_.consume(id, data.size());
    return;
  }
  s->pipe->input().append(reinterpret_cast<const char*>(data.data()), data.size());
  s->unconsumed += data.size();
  s->pipe->inputAdded();
}

void H2Session::onResponseEnd(int32_t id, http::Fields trailers) {
  H2UpStream* s = find(id);
  if (!s || s->closed) return;
  if (s->exchange) s->exchange->trailers = std::move(trailers);
  s->response_ended = true;
  s->pipe->inputAdded();
  s->pipe->endInput();
  // The whole response is in the pipe (at most one stream window of it unread): the window goes
  // back now, and the request path reads the rest, then the end.
  if (s->unconsumed > 0) codec_.consume(id, s->unconsumed);
  s->unconsumed = 0;
  kick();
  endStream(*s);
}

void H2Session::onStreamClose(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<H2UpStream> s = std::move(it->second);
  streams_.erase(it);
  // Nothing in flight any more: the spares a burst left go (the streams still being relayed
  // come back one each, enough for traffic that follows one request at a time).
  if (streams_.empty() && pending_.empty()) spare_.clear();
  if (s->unconsumed > 0) {
    // Response bytes that will never be read: the connection's window gets them back.
    codec_.consume(id, s->unconsumed);
    s->unconsumed = 0;
  }
  if (!s->response_ended) {
    // Reset (REFUSED_STREAM, a server error) before the response ended: the request path sees
    // its connection end, a retriable failure before the head, a cut body after.
    HLOG_DEBUG("http2 stream {} to {} closed: {}", id, c_->host().name,
               http::h2ErrorName(error_code));
    if (error_code == http::kH2RefusedStream && !s->head_delivered && s->exchange) {
      s->exchange->refused = true;
    }
  }
  endStream(*s);
}

long H2Session::readBody(int32_t id, uint8_t* out, size_t max, bool& end) {
  H2UpStream* s = find(id);
  if (!s) {
    end = true;
    return 0;
  }
  const size_t n = std::min(max, s->pending());
  if (n == 0 && !s->body_ended) return -1;
  std::memcpy(out, s->body.data() + s->body_offset, n);
  s->body_offset += n;
  if (s->body_offset == s->body.size()) {
    s->body.clear();
    s->body_offset = 0;
  }
  end = s->body_ended && s->pending() == 0;
  if (!s->body_ended && !s->closed && s->pending() < kMaxPending / 2 &&
      !s->pipe->output().empty()) {
    // Room again: more of the body from the pipe (its writer resumes once it has room too).
    drainBody(*s);
  }
  return static_cast<long>(n);
}

asio::awaitable<void> H2Session::readLoop(common::LocalShared<H2Session> self) {
  UpstreamConnection& c = *self->c_;
  while (!self->closed_) {
    net::ByteBuffer& buffer = c.buffer();
    buffer.rewindTo(0);
    auto [ec, n] = co_await c.transport().readSome(
        asio::buffer(buffer.writable().data(), buffer.writableSize()));
    if (ec || self->closed_) break;
    const bool ok = self->codec_.receive(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer.data()), n));
    self->kick();
    if (!ok) {
      HLOG_DEBUG("http2 connection to {} failed: {}", c.host().name, self->codec_.error());
      break;
    }
    if (!self->codec_.wantsRead() && !self->codec_.wantsWrite()) break;
  }
  self->shutdown();
}

asio::awaitable<void> H2Session::writeLoop(common::LocalShared<H2Session> self) {
  UpstreamConnection& c = *self->c_;
  while (!self->closed_) {
    self->out_.clear();
    if (!self->codec_.send(self->out_, kMaxWrite)) break;
    if (self->out_.empty()) {
      self->want_write_.reset();
      co_await self->want_write_.nextSet();
      continue;
    }
    auto [ec, n] = co_await c.transport().writeAll(asio::buffer(self->out_));
    if (ec) break;
  }
  self->shutdown();
  self->writer_done_.set();
}

}  // namespace

namespace {

// A new stream on `session` for the request path: a spare connection object of the session's,
// or a new one, over a fresh pipe.
std::unique_ptr<UpstreamConnection> streamOn(H2Session& session, UpstreamHost& host,
                                             const asio::any_io_executor& executor) {
  H2Session::Spare spare = session.takeSpare();
  std::unique_ptr<UpstreamConnection> c = std::move(spare.connection);
  common::LocalShared<net::MemoryPipe> pipe;
  if (spare.pipe && spare.pipe.use_count() == 1) {
    pipe = std::move(spare.pipe);
    pipe->reset();
  } else {
    pipe = common::makeLocalShared<net::MemoryPipe>(executor, kPipeCapacity);
  }
  if (c) {
    common::LocalShared<H2Exchange> exchange;
    if (spare.exchange && spare.exchange.use_count() == 1) {
      exchange = std::move(spare.exchange);
      exchange->reset();
    } else {
      exchange = common::makeLocalShared<H2Exchange>();
    }
    c->reuseForStream(pipe, std::move(exchange));
  } else {
    c = std::make_unique<UpstreamConnection>(executor, host, net::ByteBuffer::kStreamSize);
    c->transport().usePipe(pipe);
    c->setPeerPrincipal(session.peerPrincipal());
    c->h2 = common::makeLocalShared<H2Exchange>();
  }
  session.open(std::move(pipe), c->h2);
  return c;
}

// Forgets connections that ended (closed by the server, GOAWAY and done); the first with room
// for a stream on `key`'s transport, or null. (Raw pointers while scanning: a shared_ptr copy
// per connection and request would be two atomic operations each.)
H2Session* usableSession(UpstreamHost& host, uint64_t key) {
  std::erase_if(host.h2_sessions, [](const common::LocalShared<void>& s) {
    return static_cast<H2Session*>(s.get())->finished();
  });
  for (const auto& any : host.h2_sessions) {
    auto* s = static_cast<H2Session*>(any.get());
    if (s->usable(key)) return s;
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<UpstreamConnection> openH2StreamNow(UpstreamHost& host,
                                                    const asio::any_io_executor& executor,
                                                    const TransportSettings& settings) {
  H2Session* session = usableSession(host, settings.key);
  return session ? streamOn(*session, host, executor) : nullptr;
}

asio::awaitable<common::Expected<std::unique_ptr<UpstreamConnection>>> openH2Stream(
    ConnectionPool& pool, UpstreamHost& host, std::chrono::milliseconds timeout,
    const TransportSettings& settings, bool* connected) {
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  if (connected) *connected = false;
  if (H2Session* usable = usableSession(host, settings.key)) {
    co_return streamOn(*usable, host, executor);
  }
  common::LocalShared<H2Session> session;
  common::LocalShared<H2Session> connecting;
  for (const auto& any : host.h2_sessions) {
    auto s = std::static_pointer_cast<H2Session>(any);
    if (s->connecting() && s->key() == settings.key) connecting = s;
  }
  if (connecting) {
    // A connection is being made: its streams are for this request too.
    co_await connecting->waitReady();
    if (connecting->usable(settings.key)) {
      session = connecting;
    } else if (!connecting->error().message.empty()) {
      co_return common::unexpected(connecting->error());
    }
  }
  if (!session) {
    session = common::makeLocalShared<H2Session>(executor, settings.key, settings.tls != nullptr);
    host.h2_sessions.push_back(session);
    TransportSettings h2 = settings;
    h2.h2 = true;
    if (connected) *connected = true;
    auto made = co_await pool.connect(host, timeout, h2);
    if (!made) {
      session->fail(made.error());
      co_return common::unexpected(made.error());
    }
    session->attach(std::move(*made));
  }
  co_return streamOn(*session, host, executor);
}

void releaseH2Stream(std::unique_ptr<UpstreamConnection> stream) {
  if (!stream->h2) return;
  const common::LocalShared<void> session = stream->h2->session.lock();
  if (session) std::static_pointer_cast<H2Session>(session)->keepSpare(std::move(stream));
}

bool startH2Request(H2Exchange& exchange, const http::FieldBlock& fields,
                    const http::BodyFraming& body,
                    common::LocalShared<const http::Fields> trailers) {
  auto* s = static_cast<H2UpStream*>(exchange.stream);
  if (!s) return false;
  return s->session->startRequestDirect(*s, fields, body, std::move(trailers));
}

size_t h2ConnectionCount(const UpstreamHost& host) {
  return host.h2_sessions.size();
}

}  // namespace halyard::proxy::upstream
