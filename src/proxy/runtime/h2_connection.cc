#include "proxy/runtime/h2_connection.h"

#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/local_shared.h"
#include "common/log.h"
#include "proxy/http/h1_field_section.h"
#include "proxy/http/h2_frame.h"
#include "proxy/http/h2_response_encoder.h"
#include "proxy/http/h2_server_session.h"
#include "proxy/http/h2_stream_request.h"
#include "proxy/net/async_event.h"
#include "proxy/net/memory_pipe.h"
#include "proxy/net/spawn.h"
#include "proxy/runtime/downstream_connection.h"
#include "proxy/runtime/worker.h"

namespace halyard::proxy::runtime {

namespace {

// What the stream's request path may have written and the client's window not taken yet: a
// writer finding this much queued waits (net/memory_pipe.h).
constexpr size_t kPipeCapacity = 64 * 1024;
// What one write to the client carries at most.
constexpr size_t kMaxWrite = 64 * 1024;
// A request body that ends within the first burst and this size goes with a Content-Length.
constexpr size_t kMaxEarlyBody = 64 * 1024;

// How many finished streams' connections one HTTP/2 connection keeps for its next streams
// (while it is busy: an idle one lets them go with its read buffer).
constexpr size_t kSpareStreamConnections = 64;
// And how many finished streams' driver state (H2Stream with its pipe and response encoder).
constexpr size_t kSpareStreams = 64;

// The finished streams' request-path objects of one HTTP/2 connection, for its next streams.
// Making a DownstreamConnection costs a few KiB of allocations, I/O objects registered with the
// execution context and their scratch storage; a stream finishes a moment later, and the next
// one on the same connection can take it over as it is (DownstreamConnection::startStream).
// The pool goes with the connection; a stream that finishes after it is simply destroyed.
class SpareStreamConnections : public common::EnableLocalSharedFromThis<SpareStreamConnections> {
 public:
  common::LocalShared<DownstreamConnection> make(
      Downstream& ds, common::LocalShared<net::MemoryPipe> pipe,
      common::LocalShared<http::H2ResponseEncoder> encoder, http::H2RequestHead&& head,
      const http::BodyFraming& framing, common::LocalShared<const http::Fields> trailers) {
    DownstreamConnection* c = nullptr;
    if (!spare_.empty()) {
      c = spare_.back().release();
      spare_.pop_back();
      c->startStream(std::move(pipe), std::move(encoder), std::move(head), framing,
                     std::move(trailers));
    } else {
      c = new DownstreamConnection(ds.worker, std::move(pipe), ds.listener, ds, std::move(encoder),
                                   std::move(head), framing, std::move(trailers));
    }
    return common::LocalShared<DownstreamConnection>(
        c, [pool = weak_from_this()](DownstreamConnection* done) {
          const common::LocalShared<SpareStreamConnections> self = pool.lock();
          if (!self || self->spare_.size() >= kSpareStreamConnections) {
            delete done;
            return;
          }
          done->releaseStream();
          self->spare_.emplace_back(done);
        });
  }
  // An idle connection keeps none: each holds its buffers.
  void clear() { spare_.clear(); }

 private:
  std::vector<std::unique_ptr<DownstreamConnection>> spare_;
};

bool isGrpc(const http::H2RequestHead& head) {
  for (const auto& [n, v] : head.headers) {
    if (n == "content-type") return v.starts_with("application/grpc");
  }
  return false;
}

class H2Connection;

struct H2Stream final : http::H2ResponseEncoder::Sink, net::MemoryPipe::Driver {
  H2Stream(H2Connection& c, int32_t stream_id, common::LocalShared<net::MemoryPipe> p)
      : connection(&c), id(stream_id), pipe(std::move(p)) {}

  void onResponseHead(http::H2ResponseEncoder& encoder, bool body) override;
  void onPipeRead(size_t bytes) override;
  void onPipeOutput() override;

  // Whether nothing but this stream holds its pipe and encoder (the request path let them go):
  // then the object can serve a later stream (reuse()).
  bool reusable() const { return pipe.use_count() == 1 && encoder.use_count() == 1; }
  // Back to a new stream's state for `stream_id`, its pipe and encoder reset in place.
  void reuse(int32_t stream_id, bool grpc_request, bool head_request) {
    id = stream_id;
    pipe->reset();
    encoder->reset(grpc_request, head_request);
    unconsumed = 0;
    request_ended = false;
    head_pending = true;
    has_length = tunnel = false;
    trailers.reset();
    early_body.clear();
    with_body = finished = closed = false;
  }

  H2Connection* connection;
  int32_t id;
  common::LocalShared<net::MemoryPipe> pipe;  // the driver's side
  common::LocalShared<http::H2ResponseEncoder> encoder;
  // Request direction: body bytes put into the pipe and not yet returned to the client's
  // window (they are once the stream's connection read them).
  size_t unconsumed = 0;
  bool request_ended = false;
  // The head waits (in the pipe, not announced, without its framing) for the end of the
  // client's first burst: a request whose body ends within it gets a Content-Length, and the
  // request path can buffer it for retries (gRPC unary calls, small POSTs); one still sending
  // goes on chunked.
  bool head_pending = true;
  bool has_length = false;   // the client sent content-length: the body goes as it is
  bool tunnel = false;       // extended CONNECT (WebSocket over HTTP/2)
  http::H2RequestHead head;  // until the head goes to the request path
  // The request's trailers, shared with the request path: made when they can still come.
  common::LocalShared<http::Fields> trailers;
  std::string early_body;
  // Response direction.
  bool with_body = false;
  bool finished = false;  // the response's end was seen (or the stream reset for lacking one)
  bool closed = false;    // the HTTP/2 stream is gone
};

class H2Connection final : public http::H2ServerSession::Handler,
                           public std::enable_shared_from_this<H2Connection> {
 public:
  explicit H2Connection(Downstream& ds)
      : ds_(ds),
        executor_(ds.transport.executor()),
        session_(*this, http::H2Settings{}),
        spare_connections_(common::makeLocalShared<SpareStreamConnections>()),
        want_write_(executor_),
        writer_done_(executor_) {}

  net::awaitable<void> run(H2cUpgrade* upgrade);

  // H2ServerSession::Handler
  void onRequest(int32_t id, http::H2RequestHead head, bool end_stream) override;
  void onRequestData(int32_t id, std::span<const uint8_t> data) override;
  void onRequestEnd(int32_t id) override;
  void onRequestTrailers(int32_t id, http::Fields trailers) override;
  void onStreamClose(int32_t id, uint32_t error_code) override;
  long readBody(int32_t id, uint8_t* out, size_t max, bool& end) override;
  const http::Fields* trailers(int32_t id) override;

  http::H2ServerSession& session() { return session_; }
  bool closed() const { return closed_; }
  void kick() { want_write_.set(); }

 private:
  H2Stream* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  net::awaitable<void> writeLoop(std::shared_ptr<H2Connection> self);
  void endStream(H2Stream& s);
  // Decides a stream's body framing and hands the request to the stream's connection.
  void finishHead(H2Stream& s);
  // After a burst of input: heads still waiting go out (chunked, the body still coming).
  // Only the streams still waiting are visited: a walk over every open stream after each burst
  // touched each one's state, a cost that grew with the streams in flight.
  void finishPendingHeads() {
    if (pending_heads_.empty()) return;
    for (const int32_t id : pending_heads_) {
      if (H2Stream* s = find(id)) finishHead(*s);
    }
    pending_heads_.clear();
  }

  Downstream& ds_;  // valid while run() runs; stream connections never touch it
  asio::any_io_executor executor_;
  http::H2ServerSession session_;
  common::LocalShared<SpareStreamConnections> spare_connections_;
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  // Finished streams whose objects serve the next ones: three allocations (the stream, its pipe
  // and encoder) and their buffers fewer per stream.
  std::vector<std::unique_ptr<H2Stream>> spare_streams_;
  net::AsyncEvent want_write_;
  net::AsyncEvent writer_done_;
  std::string out_;
  bool pending_write_ = false;  // out_ holds bytes a cancelled write left
  // The streams whose head waits for the end of the input burst (their body still coming).
  std::vector<int32_t> pending_heads_;
  bool closed_ = false;
  bool going_away_ = false;
};

void H2Stream::onResponseHead(http::H2ResponseEncoder& e, bool has_body) {
  if (closed || connection->closed()) return;
  with_body = has_body;
  // The encoder's fields stay as they are while this stream (which holds the encoder) is open.
  if (!connection->session().respond(id, e.status(), e.headers(), has_body,
                                     http::H2ServerSession::FieldStorage::kKeptUntilStreamClose)) {
    connection->session().reset(id, http::kH2InternalError);
  }
  connection->kick();
}

void H2Stream::onPipeRead(size_t bytes) {
  if (closed || connection->closed() || unconsumed == 0) return;
  // Only body bytes are in the pipe; everything is returned once it is empty.
  const size_t credit = pipe->inputSize() == 0 ? unconsumed : std::min(bytes, unconsumed);
  unconsumed -= credit;
  connection->session().consume(id, credit);
  connection->kick();
}

void H2Stream::onPipeOutput() {
  if (closed || connection->closed() || finished) return;
  http::H2ServerSession& session = connection->session();
  if (pipe->requestSideClosed() && unconsumed > 0) {
    // The stream's connection is done without reading all of the request (a local reply, an
    // upstream that answered early): what the client sent still counts against its window.
    session.consume(id, unconsumed);
    unconsumed = 0;
  }
  if (!with_body) {
    // A trailers-only or bodiless answer: the bytes are not sent.
    pipe->consumeOutput(pipe->output().size());
  }
  if (pipe->outputEnded() && pipe->output().empty()) {
    finished = true;
    if (!encoder->headSent()) {
      // The stream's connection ended without a response: nothing to relay.
      session.reset(id, http::kH2InternalError);
      connection->kick();
      return;
    }
  }
  if (with_body) session.resume(id);
  connection->kick();
}

void H2Connection::onRequest(int32_t id, http::H2RequestHead head, bool end_stream) {
  const bool websocket = http::isWebSocketConnect(head);
  if (head.method.empty() || (head.method == "CONNECT" && !websocket) || head.path.empty()) {
    // Plain CONNECT tunnels and extended CONNECT for other protocols are not served over
    // HTTP/2 here; WebSocket is (RFC 8441, bridged to an HTTP/1.1 upgrade upstream).
    session_.respond(id, 501, {{"x-halyard-reason", "CONNECT over HTTP/2 is not supported"}},
                     false);
    kick();
    return;
  }
  const bool grpc = isGrpc(head);
  const bool head_request = head.method == "HEAD";
  std::unique_ptr<H2Stream> owned;
  if (!spare_streams_.empty()) {
    owned = std::move(spare_streams_.back());
    spare_streams_.pop_back();
    owned->reuse(id, grpc, head_request);
  } else {
    owned = std::make_unique<H2Stream>(
        *this, id, common::makeLocalShared<net::MemoryPipe>(executor_, kPipeCapacity));
    owned->encoder = common::makeLocalShared<http::H2ResponseEncoder>(grpc, head_request);
  }
  H2Stream* s = owned.get();
  s->encoder->setSink(s);
  if (websocket) {
    s->encoder->setTunnel();
    s->tunnel = true;
  }
  s->pipe->setDriver(s);
  for (const auto& [n, v] : head.headers) {
    if (n == "content-length") s->has_length = true;
  }
  s->head = std::move(head);
  s->request_ended = end_stream;
  streams_.emplace(id, std::move(owned));
  if (end_stream) {
    finishHead(*s);
  } else {
    pending_heads_.push_back(id);
  }
}

// The request goes to the request path once its framing is known: the head as fields, the body
// as bytes without framing (net::MemoryPipe), ended with the stream.
void H2Connection::finishHead(H2Stream& s) {
  if (!s.head_pending) return;
  s.head_pending = false;
  http::BodyFraming framing;
  if (s.tunnel) {
    // No HTTP body: what the client sends is the tunnel's, spliced once the upgrade is answered.
  } else if (s.has_length) {
    // HTTP/2 checks the DATA against it; the request path reads exactly that much.
    uint64_t length = 0;
    for (const auto& [n, v] : s.head.headers) {
      if (n == "content-length") http::parseContentLength(v, length);
    }
    framing = http::BodyFraming{http::BodyKind::kContentLength, length};
  } else if (s.request_ended) {
    // The whole body came with the first burst: its length is known, so the request path can
    // keep it for retries (gRPC unary calls, small POSTs).
    if (!s.early_body.empty()) {
      framing = http::BodyFraming{http::BodyKind::kContentLength, s.early_body.size()};
    }
  } else {
    // Still sending: a body of unknown length, to the end of the stream (chunked for an
    // HTTP/1.1 upstream).
    framing = http::BodyFraming{http::BodyKind::kChunked, 0};
  }
  if (!s.early_body.empty()) {
    s.pipe->input().append(s.early_body);
    s.early_body.clear();
    s.early_body.shrink_to_fit();
  }
  if (s.request_ended) s.pipe->endInput();
  s.pipe->inputAdded();
  if (!s.request_ended && !s.trailers) s.trailers = common::makeLocalShared<http::Fields>();
  auto stream_connection =
      spare_connections_->make(ds_, s.pipe, s.encoder, std::move(s.head), framing, s.trailers);
  net::spawnDetached(executor_, DownstreamConnection::runStream(std::move(stream_connection)));
}

void H2Connection::onRequestData(int32_t id, std::span<const uint8_t> data) {
  H2Stream* s = find(id);
  if (!s || s->pipe->requestSideClosed()) {
    // The stream's connection stopped reading: what the client still sends is dropped.
    session_.consume(id, data.size());
    return;
  }
  const std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
  s->unconsumed += data.size();
  if (s->head_pending) {
    s->early_body.append(bytes);
    if (s->early_body.size() > kMaxEarlyBody) finishHead(*s);
    return;
  }
  s->pipe->input().append(bytes);
  s->pipe->inputAdded();
}

void H2Connection::onRequestTrailers(int32_t id, http::Fields trailers) {
  H2Stream* s = find(id);
  if (!s) return;
  // Before the request path reads the body's end (onRequestEnd follows), so an HTTP/2 upstream
  // gets them after the last DATA.
  if (!s->trailers) s->trailers = common::makeLocalShared<http::Fields>();
  *s->trailers = std::move(trailers);
}

void H2Connection::onRequestEnd(int32_t id) {
  H2Stream* s = find(id);
  if (!s || s->request_ended) return;
  s->request_ended = true;
  if (s->head_pending) return finishHead(*s);
  // The request path reads the end of the stream after the body (a body of unknown length ends
  // there; one with a length never reads that far).
  s->pipe->endInput();
}

void H2Connection::endStream(H2Stream& s) {
  s.closed = true;
  s.encoder->setSink(nullptr);
  // The stream's connection sees the client go (reads fail, writes fail) if still busy; a
  // request whose end never came is cut, not taken as complete.
  s.pipe->closeDriverSide(!s.request_ended);
}

void H2Connection::onStreamClose(int32_t id, uint32_t) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  // Body bytes not passed on (a client that reset its stream mid-upload) still count against
  // the connection's window: returned here, or the connection would stall after enough of them.
  if (it->second->unconsumed > 0) {
    session_.consume(id, it->second->unconsumed);
    it->second->unconsumed = 0;
  }
  endStream(*it->second);
  if (spare_streams_.size() < kSpareStreams && it->second->reusable()) {
    spare_streams_.push_back(std::move(it->second));
  }
  streams_.erase(it);
}

long H2Connection::readBody(int32_t id, uint8_t* out, size_t max, bool& end) {
  H2Stream* s = find(id);
  if (!s) {
    end = true;
    return 0;
  }
  const std::string_view queued = s->pipe->output();
  const size_t n = std::min(max, queued.size());
  const bool ended = s->pipe->outputEnded();
  if (n == 0 && !ended) return -1;
  std::memcpy(out, queued.data(), n);
  s->pipe->consumeOutput(n);
  end = ended && s->pipe->output().empty();
  return static_cast<long>(n);
}

const http::Fields* H2Connection::trailers(int32_t id) {
  H2Stream* s = find(id);
  return s ? &s->encoder->trailers() : nullptr;
}

net::awaitable<void> H2Connection::writeLoop(std::shared_ptr<H2Connection> self) {
  (void)self;  // keeps the connection alive while the loop runs
  while (true) {
    if (!pending_write_) out_.clear();
    pending_write_ = false;
    if (!session_.send(out_, kMaxWrite)) {
      HLOG_DEBUG("http2 connection from {}: {}", ds_.remote_endpoint, session_.error());
      break;
    }
    if (out_.empty()) {
      if (closed_ || (!session_.wantsRead() && !session_.wantsWrite())) break;
      // No stream left: what large responses grew the buffer to goes (an idle connection holds
      // no response); small buffers stay, so a sequence of small exchanges allocates nothing.
      constexpr size_t kKeptOut = 16 * 1024;
      if (streams_.empty() && out_.capacity() > kKeptOut) std::string().swap(out_);
      want_write_.reset();
      co_await want_write_.nextSet();
      continue;
    }
    const IoResult w =
        co_await writeAll(ds_.transport, asio::buffer(out_), ds_.write_timer, ds_.idleDeadline());
    if (!w.ok() && w.ec == asio::error::operation_aborted && !w.timed_out &&
        ds_.worker.draining() && !closed_) {
      // Cancelled by the drain's wake-up, not failed: the rest still goes out.
      out_.erase(0, w.bytes);
      pending_write_ = true;
      continue;
    }
    if (!w.ok()) break;
  }
  closed_ = true;
  ds_.transport.cancel();  // wakes the reader
  writer_done_.set();
}

net::awaitable<void> H2Connection::run(H2cUpgrade* upgrade) {
  std::shared_ptr<H2Connection> self = shared_from_this();
  Downstream& ds = ds_;
  net::spawnDetached(executor_, writeLoop(self));
  if (upgrade) {
    // The upgraded request is stream 1, complete (only requests without a body are upgraded).
    if (!session_.upgrade(upgrade->settings, upgrade->head.method == "HEAD")) {
      HLOG_DEBUG("h2c upgrade from {} refused: malformed HTTP2-Settings", ds.remote_endpoint);
      closed_ = true;
      kick();
      co_await writer_done_.wait();
      co_return;
    }
    onRequest(1, std::move(upgrade->head), true);
    finishPendingHeads();
    kick();
  }
  // What the preface check already read.
  bool ok = true;
  constexpr size_t kPrefaceSize = 24;
  size_t received = ds.in.readableSize();
  const Clock::time_point preface_deadline =
      Clock::now() + ds.worker.options().request_headers_timeout;
  // What was read goes to the codec; heads still waiting go out; the writer is woken.
  auto feed = [&] {
    const std::string_view got = ds.in.readableView();
    const bool fed = got.empty() || session_.receive(std::span<const uint8_t>(
                                        reinterpret_cast<const uint8_t*>(got.data()), got.size()));
    if (!got.empty()) finishPendingHeads();
    ds.in.rewindTo(0);
    kick();
    return fed;
  };
  ok = feed();
  // An idle connection (no stream, nothing to write) gives its 16 KiB read buffer back to this
  // thread's spares and reads the next frames into a small one; the first bytes that come bring
  // a full buffer back. Idle connections are the many (clients open them ahead and keep them for
  // the next request). One that has not opened a stream yet gives it back at once (the next
  // accepted connection takes the same block); one that has, after a second without a stream,
  // so that a busy connection does not trade buffers between its requests.
  constexpr auto kIdleShrinkAfter = std::chrono::seconds(1);
  constexpr size_t kIdleBuffer = 1024;
  bool had_stream = upgrade != nullptr;
  while (ok && !closed_) {
    had_stream = had_stream || !streams_.empty();
    if (!had_stream && received >= kPrefaceSize && ds.in.capacity() > kIdleBuffer) {
      net::ByteBuffer small(kIdleBuffer);
      std::swap(ds.in, small);
    }
    if (ds.worker.draining() && !going_away_) {
      going_away_ = true;
      session_.goAway();
      kick();
    }
    if (going_away_ && streams_.empty()) break;
    // Until the client preface is in, the request-header timeout (a client that chose h2 by ALPN
    // and says nothing is cut off as an HTTP/1.1 one would be); then, idle (no stream open) for
    // the idle timeout: closed, as an HTTP/1.1 keep-alive would be.
    // (Whole seconds: the coarse clock will do, and costs less than the precise one per read.)
    Clock::time_point deadline = received < kPrefaceSize ? preface_deadline
                                 : streams_.empty()      ? ds.idleDeadline()
                                                         : coarseNow() + std::chrono::hours(24);
    // (A deadline cancels the transport: only while no write can be under way.)
    const bool may_shrink = received >= kPrefaceSize && streams_.empty() && out_.empty() &&
                            ds.in.capacity() > kIdleBuffer && !going_away_;
    const Clock::time_point shrink_at =
        may_shrink ? coarseNow() + kIdleShrinkAfter : Clock::time_point::max();
    if (shrink_at < deadline) deadline = shrink_at;
    const IoResult r = co_await readSome(ds.transport, ds.in, ds.read_timer, deadline);
    if (closed_) break;
    if (r.timed_out && may_shrink && deadline == shrink_at && streams_.empty()) {
      net::ByteBuffer small(kIdleBuffer);
      std::swap(ds.in, small);  // the large block goes back to this thread's spares
      spare_connections_->clear();
      spare_streams_.clear();
      continue;
    }
    if (r.timed_out && !streams_.empty()) continue;
    // A drain cancels the read (DownstreamConnection::onDrain): GOAWAY, then on until the
    // streams are done.
    if (r.ec == asio::error::operation_aborted && ds.worker.draining() && !r.timed_out) continue;
    if (!r.ok()) break;
    received += r.bytes;
    ok = feed();
    if (ds.in.capacity() < net::ByteBuffer::kCommonSize) {
      net::ByteBuffer full(net::ByteBuffer::kCommonSize);
      std::swap(ds.in, full);  // active again (feed consumed what the small buffer held)
    }
    if (!session_.wantsRead() && !session_.wantsWrite()) break;
  }
  if (!ok) {
    HLOG_DEBUG("http2 connection from {} ends: {}", ds.remote_endpoint, session_.error());
    // A GOAWAY may be queued for the protocol error: the writer sends it before it stops.
    kick();
    co_await writer_done_.wait();
  }
  closed_ = true;
  for (auto& [id, s] : streams_) endStream(*s);
  // The streams (and their encoders, whose fields response heads still queued point into) stay
  // until the writer's last send; none of them is found meanwhile.
  const std::unordered_map<int32_t, std::unique_ptr<H2Stream>> ended = std::move(streams_);
  streams_.clear();
  kick();
  co_await writer_done_.wait();
}

}  // namespace

net::awaitable<void> serveHttp2(Downstream& ds, H2cUpgrade* upgrade) {
  auto connection = std::make_shared<H2Connection>(ds);
  co_await connection->run(upgrade);
}

}  // namespace halyard::proxy::runtime
