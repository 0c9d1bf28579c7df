#include "wire/control_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>

#include "common/log.h"

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

namespace {

using Clock = std::chrono::steady_clock;

// A control plane that vanished without closing the connection is noticed within about 40 s,
// and the client reconnects. (The control plane pings too, and allows one every 10 s.)
constexpr std::chrono::milliseconds kKeepaliveTime{30'000};
constexpr std::chrono::milliseconds kKeepaliveTimeout{10'000};
constexpr std::chrono::milliseconds kConnectTimeout{5'000};
// Room for a whole snapshot of a large mesh in flight without waiting for window updates.
constexpr int32_t kWindow = 16 << 20;
constexpr const char* kPath = "/halyard.v1.Discovery/Stream";

std::string errnoText(int e) {
  return std::strerror(e);
}

// "host:port", "[v6]:port" -> host, port.
bool splitAddress(const std::string& address, std::string& host, std::string& port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return !host.empty();
}

// A connected, blocking TCP socket with TCP_NODELAY, or -1 with `error` set.
int connectTo(const std::string& address, std::string& error) {
  std::string host, port;
  if (!splitAddress(address, host, port)) {
    error = "\"" + address + "\" is not HOST:PORT";
    return -1;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(kConnectTimeout.count()));
      int so_error = rc == 0 ? ETIMEDOUT : 0;
      socklen_t len = sizeof(so_error);
      if (rc > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error != 0) errno = so_error;
      rc = so_error == 0 ? 0 : -1;
    }
    if (rc != 0) {
      error = "connect to " + address + ": " + errnoText(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return -1;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// gRPC's length-prefixed message framing: a zero compression flag, a 32-bit big-endian length.
void appendFramed(std::string& out, const google::protobuf::MessageLite& message) {
  const std::string bytes = message.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  const char prefix[5] = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                          static_cast<char>(n >> 8), static_cast<char>(n)};
  out.append(prefix, 5);
  out.append(bytes);
}

// grpc-message is percent-encoded.
std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

// One HTTP/2 connection carrying the one gRPC stream, driven by the client's thread with
// blocking I/O: nghttp2 does the framing, flow control and PING answers.
class ControlClient::Stream {
 public:
  explicit Stream(int fd) : fd_(fd) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Stream::onHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Stream::onData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Stream::onClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Stream::onFrame);
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
  }
  ~Stream() { nghttp2_session_del(session_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool open(const std::string& authority) {
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWindow},
                                               {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kWindow);
    auto nv = [](const char* n, const std::string& v) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n)),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), std::strlen(n),
                        v.size(), NGHTTP2_NV_FLAG_NONE};
    };
    static const std::string kPost = "POST", kHttp = "http", kPathValue = kPath,
                             kGrpc = "application/grpc", kTrailers = "trailers",
                             kAgent = "halyard-proxy";
    const nghttp2_nv headers[] = {nv(":method", kPost),         nv(":scheme", kHttp),
                                  nv(":path", kPathValue),      nv(":authority", authority),
                                  nv("content-type", kGrpc),    nv("te", kTrailers),
                                  nv("user-agent", kAgent)};
    nghttp2_data_provider provider{};
    provider.read_callback = &Stream::readOutgoing;
    stream_id_ = nghttp2_submit_request(session_, nullptr, headers, 7, &provider, this);
    return stream_id_ > 0;
  }

  void send(const google::protobuf::MessageLite& message) {
    appendFramed(outgoing_, message);
    nghttp2_session_resume_data(session_, stream_id_);
  }

  // Writes what nghttp2 has to send; false when the connection failed.
  bool flush() {
    while (true) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) return fail(nghttp2_strerror(static_cast<int>(n)));
      if (n == 0) return true;
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::send(fd_, data + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail("write: " + errnoText(errno));
        done += w;
      }
    }
  }

  // Waits up to `timeout` for bytes and feeds them to nghttp2; false when the connection ended.
  bool receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
    if (rc < 0 && errno != EINTR) return fail("poll: " + errnoText(errno));
    if (rc <= 0) return true;
    uint8_t buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) return true;
    if (n == 0) return fail("connection closed by the control plane");
    if (n < 0) return fail("read: " + errnoText(errno));
    const ssize_t used = nghttp2_session_mem_recv(session_, buf, static_cast<size_t>(n));
    if (used < 0) return fail(nghttp2_strerror(static_cast<int>(used)));
    return true;
  }

  void ping() {
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
    ping_outstanding_ = true;
  }
  bool pingOutstanding() const { return ping_outstanding_; }

  void abandon(std::string why) { fail(std::move(why)); }

  bool closed() const { return closed_ || !error_.empty(); }
  // Why it ended: the transport's error, else the gRPC status.
  std::string endReason() const {
    if (!error_.empty()) return error_;
    if (grpc_status_.empty() || grpc_status_ == "0") return "closed by the control plane";
    return grpc_message_.empty() ? "gRPC status " + grpc_status_ : grpc_message_;
  }

  // Messages received whole, in order.
  std::deque<v1::ControlMessage>& messages() { return messages_; }

 private:
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  static ssize_t readOutgoing(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source*, void* user) {
    auto* self = static_cast<Stream*>(user);
    if (self->outgoing_.empty()) return NGHTTP2_ERR_DEFERRED;
    const size_t n = std::min(length, self->outgoing_.size());
    std::memcpy(buf, self->outgoing_.data(), n);
    self->outgoing_.erase(0, n);
    *flags = NGHTTP2_DATA_FLAG_NONE;
    return static_cast<ssize_t>(n);
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<Stream*>(user);
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status" && v != "200") self->fail("HTTP status " + std::string(v));
    if (n == "grpc-status") self->grpc_status_ = v;
    if (n == "grpc-message") self->grpc_message_ = percentDecode(v);
    return 0;
  }

  static int onData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                    void* user) {
    auto* self = static_cast<Stream*>(user);
    if (stream_id != self->stream_id_) return 0;
    self->incoming_.append(reinterpret_cast<const char*>(data), len);
    while (self->incoming_.size() >= 5) {
      const auto* p = reinterpret_cast<const uint8_t*>(self->incoming_.data());
      const size_t n = (size_t{p[1]} << 24) | (size_t{p[2]} << 16) | (size_t{p[3]} << 8) | p[4];
      if (self->incoming_.size() < 5 + n) break;
      v1::ControlMessage message;
      if (p[0] != 0 || !message.ParseFromArray(p + 5, static_cast<int>(n))) {
        self->fail(p[0] != 0 ? "compressed message (not negotiated)" : "undecodable message");
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
      self->messages_.push_back(std::move(message));
      self->incoming_.erase(0, 5 + n);
    }
    return 0;
  }

  static int onClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    auto* self = static_cast<Stream*>(user);
    if (stream_id != self->stream_id_) return 0;
    self->closed_ = true;
    if (error_code != NGHTTP2_NO_ERROR && self->grpc_status_.empty()) {
      self->fail(std::string("stream reset: ") + nghttp2_http2_strerror(error_code));
    }
    return 0;
  }

  static int onFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<Stream*>(user);
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      self->ping_outstanding_ = false;
    }
    if (frame->hd.type == NGHTTP2_GOAWAY && self->grpc_status_.empty()) {
      self->fail("the control plane went away (GOAWAY)");
    }
    return 0;
  }

  int fd_;
  nghttp2_session* session_ = nullptr;
  int32_t stream_id_ = -1;
  std::string outgoing_;  // framed messages not yet taken by nghttp2
  std::string incoming_;  // bytes of a message not yet complete
  std::deque<v1::ControlMessage> messages_;
  std::string grpc_status_;
  std::string grpc_message_;
  std::string error_;
  bool closed_ = false;
  bool ping_outstanding_ = false;
};

ControlClient::ControlClient(ControlClientOptions options, Apply apply, OnConfigError on_error,
                             OnAnswer on_answer)
    : options_(std::move(options)),
      apply_(std::move(apply)),
      on_error_(std::move(on_error)),
      on_answer_(std::move(on_answer)) {}

ControlClient::~ControlClient() {
  stop();
}

void ControlClient::start() {
  thread_ = std::thread([this] { run(); });
}

void ControlClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes the stream's poll
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t ControlClient::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

bool ControlClient::waitToRetry(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void ControlClient::run() {
  std::minstd_rand random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  std::chrono::milliseconds backoff = options_.retry_delay;
  while (true) {
    if (runStream()) backoff = options_.retry_delay;
    const auto delay = std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(backoff.count()) * jitter(random)));
    if (!waitToRetry(delay)) return;
    backoff = std::min(backoff * 2, options_.max_retry_delay);
  }
}

bool ControlClient::runStream() {
  std::string error;
  const int fd = connectTo(options_.address, error);
  bool pushed = false;
  if (fd >= 0) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        ::close(fd);
        return false;
      }
      fd_ = fd;
    }
    Stream stream(fd);
    pushed = serve(stream);
    error = stream.endReason();
    {
      std::lock_guard lock(mu_);
      fd_ = -1;
    }
    ::close(fd);
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return pushed;
  }
  // Logged once per lost connection: the retries that follow stay quiet until one succeeds.
  if (connected_logged_) {
    connected_logged_ = false;
    HLOG_WARN("control plane stream to {} ended: {}; reconnecting", options_.address, error);
  } else if (!unreachable_logged_) {
    unreachable_logged_ = true;
    HLOG_WARN("control plane at {} unreachable ({}); retrying", options_.address, error);
  }
  return pushed;
}

bool ControlClient::serve(Stream& stream) {
  if (!stream.open(options_.address)) return false;
  v1::ProxyMessage hello;
  *hello.mutable_hello() = options_.hello;
  hello.mutable_hello()->set_last_version(assembler_.version());
  stream.send(hello);
  bool pushed = false;
  Clock::time_point next_ping = Clock::now() + kKeepaliveTime;
  Clock::time_point ping_deadline = Clock::time_point::max();
  while (stream.flush() && !stream.closed()) {
    const Clock::time_point wake = std::min(next_ping, ping_deadline);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
    if (!stream.receive(wait)) break;
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    const Clock::time_point now = Clock::now();
    if (!stream.pingOutstanding()) ping_deadline = Clock::time_point::max();
    if (now >= ping_deadline) {
      stream.abandon("no answer to a keepalive ping within " +
                     std::to_string(kKeepaliveTimeout.count() / 1000) + " s");
      break;
    }
    if (now >= next_ping) {
      stream.ping();
      next_ping = now + kKeepaliveTime;
      ping_deadline = now + kKeepaliveTimeout;
    }
    auto& messages = stream.messages();
    while (!messages.empty()) {
      v1::ControlMessage in = std::move(messages.front());
      messages.pop_front();
      if (!connected_logged_) {
        connected_logged_ = true;
        unreachable_logged_ = false;
        HLOG_INFO("connected to the control plane at {}", options_.address);
      }
      if (in.has_error()) {
        for (const auto& e : in.error().errors()) {
          HLOG_WARN("control plane has no snapshot for this proxy at version {}: {}",
                    in.error().version(), e);
        }
        if (on_error_) on_error_(in.error());
        continue;
      }
      if (!in.has_push()) continue;
      pushed = true;
      stream.send(answer(in.push()));
    }
  }
  return pushed;
}

v1::ProxyMessage ControlClient::answer(const v1::SnapshotPush& push) {
  v1::ProxyMessage answer;
  auto assembled = assembler_.assemble(push);
  common::Result<void, std::string> applied =
      assembled ? apply_(assembled->snapshot)
                : common::Result<void, std::string>(common::unexpected(assembled.error().message));
  if (applied) {
    assembler_.commit(std::move(*assembled));
    {
      std::lock_guard lock(mu_);
      version_ = assembler_.version();
    }
    answer.mutable_ack()->set_version(push.version());
  } else {
    HLOG_WARN("rejected snapshot version {}: {}", push.version(), applied.error());
    answer.mutable_nack()->set_version(push.version());
    answer.mutable_nack()->set_error(applied.error());
  }
  if (on_answer_) on_answer_(applied.ok(), push.version());
  return answer;
}

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
