#include "proxy/upstream/h2_session.h"

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/write.hpp>
#include <charconv>
#include <cstring>
#include <map>
#include <string>

#include "common/log.h"
#include "proxy/http/chunked_decoder.h"
#include "proxy/http/h1_request_parser.h"
#include "proxy/http/h1_writer.h"
#include "proxy/http/h2_client_session.h"
#include "proxy/net/async_event.h"
#include "proxy/net/byte_buffer.h"

namespace halyard::proxy::upstream {

namespace {

constexpr int kPairBuffer = 64 * 1024;
constexpr size_t kMaxPending = 64 * 1024;  // request body bytes waiting for the server's window
constexpr size_t kMaxWrite = 64 * 1024;

template <class Executor>
void spawn(const Executor& executor, asio::awaitable<void> task) {
  asio::co_spawn(executor, std::move(task), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      HLOG_ERROR("http2 upstream coroutine failed: {}", ex.what());
    } catch (...) {
      HLOG_ERROR("http2 upstream coroutine failed");
    }
  });
}

class H2Session;

// One request on the shared connection, and the pair end the request path talks HTTP/1.1 to.
struct H2UpStream {
  H2UpStream(H2Session& s, asio::ip::tcp::socket end)
      : session(&s),
        pair(std::move(end)),
        buffer(16 * 1024),
        body_drained(pair.get_executor()),
        to_pair_ready(pair.get_executor()) {}

  H2Session* session;
  int32_t id = -1;
  asio::ip::tcp::socket pair;
  net::ByteBuffer buffer;
  http::RequestParser parser;
  std::string method;
  std::shared_ptr<http::Fields> trailers;
  // Request body read from the pair, waiting for the server's window.
  std::string body;
  size_t body_offset = 0;
  bool body_ended = false;
  net::AsyncEvent body_drained;
  net::AsyncEvent to_pair_ready;
  // Response as HTTP/1.1, waiting to go into the pair; body bytes in it not yet returned to
  // the server's window.
  std::string to_pair;
  size_t unconsumed = 0;
  bool chunked = false;
  bool response_ended = false;
  bool head_written = false;
  bool closed = false;
  size_t pending() const { return body.size() - body_offset; }
};

class H2Session final : public http::H2ClientSession::Handler,
                        public std::enable_shared_from_this<H2Session> {
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
    spawn(executor_, readLoop(shared_from_this()));
    spawn(executor_, writeLoop(shared_from_this()));
  }
  // Adds a stream for the request the request path is about to write into `end`'s peer.
  void open(asio::ip::tcp::socket end, std::shared_ptr<http::Fields> trailers) {
    auto s = std::make_shared<H2UpStream>(*this, std::move(end));
    s->trailers = std::move(trailers);
    pending_.push_back(s);
    spawn(executor_, pumpRequest(shared_from_this(), s));
    spawn(executor_, pumpResponse(shared_from_this(), s));
  }

  // http::H2ClientSession::Handler
  void onResponseHead(int32_t id, uint16_t status, http::Fields headers, bool end) override;
  void onResponseData(int32_t id, std::span<const uint8_t> data) override;
  void onResponseEnd(int32_t id, http::Fields trailers) override;
  void onStreamClose(int32_t id, uint32_t error_code) override;
  long readBody(int32_t id, uint8_t* out, size_t max, bool& end) override;

 private:
  H2UpStream* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  void kick() { want_write_.set(); }
  void endStream(H2UpStream& s);
  void forget(const std::shared_ptr<H2UpStream>& s);
  static asio::awaitable<void> readLoop(std::shared_ptr<H2Session> self);
  static asio::awaitable<void> writeLoop(std::shared_ptr<H2Session> self);
  static asio::awaitable<void> pumpRequest(std::shared_ptr<H2Session> self,
                                           std::shared_ptr<H2UpStream> s);
  static asio::awaitable<void> pumpResponse(std::shared_ptr<H2Session> self,
                                            std::shared_ptr<H2UpStream> s);
  void shutdown();

  std::unique_ptr<UpstreamConnection> c_;
  asio::any_io_executor executor_;
  http::H2ClientSession codec_;
  std::map<int32_t, std::shared_ptr<H2UpStream>> streams_;
  std::vector<std::shared_ptr<H2UpStream>> pending_;  // head not read from the pair yet
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

void H2Session::endStream(H2UpStream& s) {
  s.closed = true;
  asio::error_code ignored;
  s.pair.close(ignored);
  s.to_pair_ready.set();
  s.body_drained.set();
}

void H2Session::forget(const std::shared_ptr<H2UpStream>& s) {
  std::erase(pending_, s);
}

void H2Session::shutdown() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, s] : streams_) endStream(*s);
  for (auto& s : pending_) endStream(*s);
  streams_.clear();
  pending_.clear();
  if (c_) c_->transport().cancel();
  kick();
}

void H2Session::onResponseHead(int32_t id, uint16_t status, http::Fields headers, bool end) {
  H2UpStream* s = find(id);
  if (!s) return;
  std::string& h = s->to_pair;
  h.append("HTTP/1.1 ");
  std::array<char, 8> code{};
  h.append(code.data(), std::to_chars(code.data(), code.data() + code.size(), status).ptr);
  h.append(" ").append(http::reasonPhrase(status)).append("\r\n");
  const bool bodiless = s->method == "HEAD" || status == 204 || status == 304;
  for (const auto& [n, v] : headers) {
    if (http::isConnectionSpecific(n)) continue;
    if (n == "content-length" && !bodiless) continue;  // framed here, below
    h.append(n).append(": ").append(v).append("\r\n");
  }
  if (end) {
    // Trailers-only (gRPC's errors): a head and nothing else, as the client will get it too.
    if (!bodiless) h.append("content-length: 0\r\n");
  } else if (!bodiless) {
    s->chunked = true;
    h.append("transfer-encoding: chunked\r\n");
  }
  h.append("connection: close\r\n\r\n");
  s->head_written = true;
  s->to_pair_ready.set();
}

void H2Session::onResponseData(int32_t id, std::span<const uint8_t> data) {
  H2UpStream* s = find(id);
  if (!s || !s->chunked) {
    codec_.consume(id, data.size());
    return;
  }
  std::array<char, 20> size{};
  const auto end = std::to_chars(size.data(), size.data() + size.size(), data.size(), 16).ptr;
  s->to_pair.append(size.data(), end)
      .append("\r\n")
      .append(reinterpret_cast<const char*>(data.data()), data.size())
      .append("\r\n");
  s->unconsumed += data.size();
  s->to_pair_ready.set();
}

void H2Session::onResponseEnd(int32_t id, http::Fields trailers) {
  H2UpStream* s = find(id);
  if (!s) return;
  if (s->trailers) *s->trailers = std::move(trailers);
  if (s->chunked) s->to_pair.append("0\r\n\r\n");
  s->response_ended = true;
  s->to_pair_ready.set();
}

void H2Session::onStreamClose(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::shared_ptr<H2UpStream> s = it->second;
  streams_.erase(it);
  if (s->unconsumed > 0 && !s->response_ended) {
    // Response bytes that will never be written: the connection's window gets them back.
    codec_.consume(id, s->unconsumed);
    s->unconsumed = 0;
  }
  if (!s->response_ended) {
    // Reset (REFUSED_STREAM, a server error) before the response ended: the request path sees
    // its connection reset, a retriable failure before the head, a cut body after.
    HLOG_DEBUG("http2 stream {} to {} closed: {}", id, c_->host().name,
               nghttp2_http2_strerror(error_code));
    endStream(*s);
  }
  // Else the pump finishes writing the response into the pair, then closes it.
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
  if (s->pending() < kMaxPending / 2) s->body_drained.set();
  end = s->body_ended && s->pending() == 0;
  return static_cast<long>(n);
}

// The request path's HTTP/1.1 request, out of the pair: the head to HEADERS, then the body
// (Content-Length bytes, or de-chunked) to DATA as the server's window allows.
asio::awaitable<void> H2Session::pumpRequest(std::shared_ptr<H2Session> self,
                                             std::shared_ptr<H2UpStream> s) {
  http::ParseStatus st = http::ParseStatus::kNeedMore;
  while (st == http::ParseStatus::kNeedMore) {
    if (s->buffer.writableSize() == 0) s->buffer.grow(s->buffer.capacity() * 2);
    auto [ec, n] = co_await s->pair.async_read_some(
        asio::buffer(s->buffer.writable().data(), s->buffer.writableSize()), net::kAwait);
    if (ec || s->closed || self->closed_) {
      self->forget(s);
      if (!s->closed) self->endStream(*s);
      co_return;
    }
    s->buffer.commit(n);
    st = s->parser.feed(s->buffer.fromStart());
  }
  self->forget(s);
  if (st != http::ParseStatus::kHeadComplete || self->closed_) {
    self->endStream(*s);
    co_return;
  }
  const http::RequestHead& head = s->parser.head();
  s->method = head.method;
  http::Fields fields;
  fields.reserve(head.headers.size() + 5);
  fields.emplace_back(":method", head.method);
  fields.emplace_back(":scheme", self->tls_ ? "https" : "http");
  fields.emplace_back(":authority", head.host);
  fields.emplace_back(":path", head.path);
  bool grpc = false;
  bool te = false;
  for (const auto& h : head.headers) {
    if (h.name == "host" || h.name == "te" || http::isConnectionSpecific(h.name)) continue;
    if (h.name == "content-type" && h.value.starts_with("application/grpc")) grpc = true;
    fields.emplace_back(h.name, h.value);
  }
  for (const auto& h : head.headers) te = te || (h.name == "te" && h.value == "trailers");
  // gRPC servers require it; the HTTP/1.1 hop before this one dropped it as hop-by-hop.
  if (grpc || te) fields.emplace_back("te", "trailers");
  const http::BodyFraming framing = head.framing;
  const bool has_body =
      framing.kind == http::BodyKind::kChunked ||
      (framing.kind == http::BodyKind::kContentLength && framing.content_length > 0);
  s->buffer.consume(head.head_bytes);
  s->id = self->codec_.request(fields, has_body);
  if (s->id < 0) {
    self->endStream(*s);
    co_return;
  }
  self->streams_.emplace(s->id, s);
  self->kick();
  if (!has_body) co_return;

  http::ChunkedDecoder decoder;
  uint64_t remaining = framing.content_length;
  bool done = false;
  while (!done && !s->closed && !self->closed_) {
    if (s->pending() >= kMaxPending) {
      s->body_drained.reset();
      co_await s->body_drained.wait();
      continue;
    }
    if (s->buffer.readableSize() == 0) {
      s->buffer.rewindTo(0);
      auto [ec, n] = co_await s->pair.async_read_some(
          asio::buffer(s->buffer.writable().data(), s->buffer.writableSize()), net::kAwait);
      if (s->closed || self->closed_) break;
      if (ec) {
        self->codec_.reset(s->id, NGHTTP2_CANCEL);
        self->kick();
        break;
      }
      s->buffer.commit(n);
    }
    const std::string_view avail = s->buffer.readableView();
    if (framing.kind == http::BodyKind::kContentLength) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(avail.size(), remaining));
      s->body.append(avail.substr(0, take));
      s->buffer.consume(take);
      remaining -= take;
      done = remaining == 0;
    } else {
      while (s->buffer.readableSize() > 0) {
        const std::string_view in = s->buffer.readableView();
        const http::ChunkedStep step = decoder.decode(std::span<const char>(in.data(), in.size()));
        s->buffer.consume(step.consumed);
        if (step.status == http::ChunkedStatus::kData) s->body.append(step.data);
        if (step.status == http::ChunkedStatus::kDone) done = true;
        if (step.status == http::ChunkedStatus::kError) {
          self->codec_.reset(s->id, NGHTTP2_CANCEL);
          self->kick();
          co_return;
        }
        if (step.status != http::ChunkedStatus::kData) break;
      }
    }
    if (done) s->body_ended = true;
    self->codec_.resume(s->id);
    self->kick();
  }
}

asio::awaitable<void> H2Session::pumpResponse(std::shared_ptr<H2Session> self,
                                              std::shared_ptr<H2UpStream> s) {
  std::string chunk;
  while (!s->closed && !self->closed_) {
    if (s->to_pair.empty()) {
      if (s->response_ended) break;
      s->to_pair_ready.reset();
      co_await s->to_pair_ready.wait();
      continue;
    }
    chunk.clear();
    chunk.swap(s->to_pair);
    const size_t credit = s->unconsumed;
    s->unconsumed = 0;
    auto [ec, n] = co_await asio::async_write(s->pair, asio::buffer(chunk), net::kAwait);
    if (self->closed_) break;
    // Returned even when the stream is gone meanwhile: the connection's window counts them too.
    if (s->id > 0) self->codec_.consume(s->id, credit);
    self->kick();
    if (s->closed) break;
    if (ec) {
      // The request path gave up on the exchange (a timeout, its client left): so does the
      // server.
      if (s->id > 0 && self->streams_.count(s->id) > 0) self->codec_.reset(s->id, NGHTTP2_CANCEL);
      break;
    }
  }
}

asio::awaitable<void> H2Session::readLoop(std::shared_ptr<H2Session> self) {
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

asio::awaitable<void> H2Session::writeLoop(std::shared_ptr<H2Session> self) {
  UpstreamConnection& c = *self->c_;
  while (!self->closed_) {
    self->out_.clear();
    if (!self->codec_.send(self->out_, kMaxWrite)) break;
    if (self->out_.empty()) {
      self->want_write_.reset();
      co_await self->want_write_.wait();
      continue;
    }
    auto [ec, n] = co_await c.transport().writeAll(asio::buffer(self->out_));
    if (ec) break;
  }
  self->shutdown();
  self->writer_done_.set();
}

}  // namespace

asio::awaitable<common::Expected<std::unique_ptr<UpstreamConnection>>> openH2Stream(
    ConnectionPool& pool, UpstreamHost& host, std::chrono::milliseconds timeout,
    const TransportSettings& settings) {
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::shared_ptr<H2Session> session;
  // Connections that ended (closed by the server, GOAWAY and done) are forgotten here.
  std::erase_if(host.h2_sessions, [](const std::shared_ptr<void>& s) {
    return std::static_pointer_cast<H2Session>(s)->finished();
  });
  std::shared_ptr<H2Session> connecting;
  for (const auto& any : host.h2_sessions) {
    auto s = std::static_pointer_cast<H2Session>(any);
    if (s->usable(settings.key)) {
      session = s;
      break;
    }
    if (s->connecting() && s->key() == settings.key) connecting = s;
  }
  if (!session && connecting) {
    // A connection is being made: its streams are for this request too.
    co_await connecting->waitReady();
    if (connecting->usable(settings.key)) {
      session = connecting;
    } else if (!connecting->error().message.empty()) {
      co_return common::unexpected(connecting->error());
    }
  }
  if (!session) {
    session = std::make_shared<H2Session>(executor, settings.key, settings.tls != nullptr);
    host.h2_sessions.push_back(session);
    TransportSettings h2 = settings;
    h2.h2 = true;
    auto connected = co_await pool.connect(host, timeout, h2);
    if (!connected) {
      session->fail(connected.error());
      co_return common::unexpected(connected.error());
    }
    session->attach(std::move(*connected));
  }
  std::array<int, 2> fds{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds.data()) != 0) {
    co_return common::fail(
        common::ErrorKind::kIo,
        "cannot open an HTTP/2 stream to " + host.name + ": socketpair: " + std::strerror(errno),
        common::ErrorSource::kInternal);
  }
  for (const int fd : fds) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kPairBuffer, sizeof(kPairBuffer));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kPairBuffer, sizeof(kPairBuffer));
  }
  auto c = std::make_unique<UpstreamConnection>(executor, host);
  asio::error_code ec;
  c->socket().assign(asio::ip::tcp::v4(), fds[0], ec);
  asio::ip::tcp::socket theirs(executor);
  theirs.assign(asio::ip::tcp::v4(), fds[1], ec);
  c->setPeerPrincipal(session->peerPrincipal());
  c->h2_trailers = std::make_shared<http::Fields>();
  session->open(std::move(theirs), c->h2_trailers);
  co_return std::move(c);
}

size_t h2ConnectionCount(const UpstreamHost& host) {
  return host.h2_sessions.size();
}

}  // namespace halyard::proxy::upstream
