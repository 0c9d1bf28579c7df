#include "wire/control_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <deque>
#include <random>

#include "common/log.h"

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A control plane that vanished without closing the connection is noticed within about 40 s,
// and the client reconnects. (The control plane pings too, and allows one every 10 s.)
constexpr milliseconds kKeepaliveTime{30'000};
constexpr milliseconds kKeepaliveTimeout{10'000};
// Covers the TCP connect and, separately, the TLS handshake.
constexpr milliseconds kConnectTimeout{5'000};
// A write the control plane does not take for this long is a dead connection (as the keepalive).
constexpr milliseconds kWriteTimeout = kKeepaliveTime + kKeepaliveTimeout;
// Room for a whole snapshot of a large mesh in flight without waiting for window updates.
constexpr int32_t kWindow = 16 << 20;
constexpr const char* kPath = "/halyard.v1.Discovery/Stream";
// Reads per receive() before the loop gets to answer what arrived (SSL keeps the rest).
constexpr int kReadsPerReceive = 16;

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

// Waits until fd is ready for `events` (POLLIN, POLLOUT); 1 ready, 0 timed out, -1 failed.
int waitFd(int fd, short events, milliseconds timeout) {
  pollfd p{fd, events, 0};
  while (true) {
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
    if (rc < 0 && errno == EINTR) continue;
    return rc < 0 ? -1 : (rc == 0 ? 0 : 1);
  }
}

// A connected, non-blocking TCP socket with TCP_NODELAY, or -1 with `error` set.
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
      rc = waitFd(fd, POLLOUT, kConnectTimeout);
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
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// A whole file, or false with `error` naming it and why not.
bool readFile(const std::string& path, const char* what, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::string("cannot read ") + what + " " + path + ": " + errnoText(errno);
    return false;
  }
  out.clear();
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("cannot read ") + what + " " + path + ": " + errnoText(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

std::string trimmed(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// The reason of the oldest queued OpenSSL error ("" when none); the queue is emptied.
std::string opensslReason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  const char* reason = ERR_reason_error_string(code);
  if (reason != nullptr) return reason;
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtx = std::unique_ptr<SSL_CTX, SslCtxFree>;
using Ssl = std::unique_ptr<SSL, SslFree>;

// A client context trusting only the control plane's roots (read now: a rotated bundle is used
// from the next connect on), or null with `error` set.
SslCtx clientContext(const ControlClientOptions& options, std::string& error) {
  std::string pem = options.ca_pem;
  const std::string origin = options.ca_file.empty() ? "the given roots" : options.ca_file;
  if (!options.ca_file.empty() &&
      !readFile(options.ca_file, "the control plane's CA file", pem, error)) {
    return nullptr;
  }
  if (options.ca_file.empty() && pem.empty()) {
    error = "no CA to verify the control plane's certificate with (give --control-ca FILE)";
    return nullptr;
  }
  SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    error = "cannot create a TLS context: " + opensslReason();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // HTTP/2 frames its own end (gRPC trailers): a peer closing without close_notify loses nothing.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  STACK_OF(X509_INFO)* infos = in ? PEM_X509_INFO_read_bio(in, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(in);
  int added = 0;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (int i = 0; infos && i < sk_X509_INFO_num(infos); ++i) {
    X509_INFO* info = sk_X509_INFO_value(infos, i);
    if (info->x509 != nullptr && X509_STORE_add_cert(store, info->x509) == 1) ++added;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  if (added == 0) {
    error = origin + " holds no PEM certificate to verify the control plane's certificate with";
    return nullptr;
  }
  return ctx;
}

bool isIpAddress(const std::string& name) {
  in6_addr any{};
  return ::inet_pton(AF_INET, name.c_str(), &any) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), &any) == 1;
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

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// grpc-message is percent-encoded.
std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const int hi = s[i] == '%' && i + 2 < s.size() ? hexDigit(s[i + 1]) : -1;
    const int lo = hi >= 0 ? hexDigit(s[i + 2]) : -1;
    if (lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The gRPC status codes with which the control plane refuses a proxy (its credential or its
// hello), by name; null for the others.
const char* refusalName(std::string_view status) {
  if (status == "3") return "INVALID_ARGUMENT";
  if (status == "7") return "PERMISSION_DENIED";
  if (status == "16") return "UNAUTHENTICATED";
  return nullptr;
}

int64_t epochNow() {
  return static_cast<int64_t>(std::time(nullptr));
}

// "2025-03-01T12:00:00Z", for the log.
std::string isoTime(int64_t epoch) {
  const std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

// One HTTP/2 connection over TLS carrying the one gRPC stream, driven by the client's thread:
// nghttp2 does the framing, flow control and PING answers; OpenSSL runs over the non-blocking
// socket, and the thread polls it when OpenSSL wants to read or write.
class ControlClient::Stream {
 public:
  Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {
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
    static const std::string kPost = "POST", kHttps = "https", kPathValue = kPath,
                             kGrpc = "application/grpc", kTrailers = "trailers",
                             kAgent = "halyard-proxy";
    const nghttp2_nv headers[] = {nv(":method", kPost),      nv(":scheme", kHttps),
                                  nv(":path", kPathValue),   nv(":authority", authority),
                                  nv("content-type", kGrpc), nv("te", kTrailers),
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
      // SSL_write takes the whole buffer or nothing (no partial writes), and is retried with the
      // same one after WANT_*, which nghttp2 keeps valid until the next mem_send.
      while (true) {
        ERR_clear_error();
        const int w = SSL_write(ssl_, data, static_cast<int>(n));
        if (w > 0) break;
        const int e = SSL_get_error(ssl_, w);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return fail(ioError("write", e));
        const int ready = waitFd(fd_, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, kWriteTimeout);
        if (ready < 0) return fail("poll: " + errnoText(errno));
        if (ready == 0) {
          return fail("the control plane took nothing for " +
                      std::to_string(kWriteTimeout.count() / 1000) + " s");
        }
      }
    }
  }

  // Waits up to `timeout` for bytes and feeds them to nghttp2; false when the connection ended.
  bool receive(milliseconds timeout) {
    // Bytes OpenSSL already holds (a record read whole with the one before) raise no poll event.
    if (SSL_has_pending(ssl_) == 0) {
      const int ready = waitFd(fd_, POLLIN, timeout);
      if (ready < 0) return fail("poll: " + errnoText(errno));
      if (ready == 0) return true;
    }
    uint8_t buf[16384];
    for (int i = 0; i < kReadsPerReceive; ++i) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n <= 0) {
        const int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ) return true;
        // OpenSSL answers a key update while reading; a full socket buffer holds that up.
        if (e == SSL_ERROR_WANT_WRITE) {
          if (waitFd(fd_, POLLOUT, kWriteTimeout) <= 0) return fail("write: timed out");
          continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN) return fail("connection closed by the control plane");
        return fail(ioError("read", e));
      }
      const ssize_t used = nghttp2_session_mem_recv(session_, buf, static_cast<size_t>(n));
      if (used < 0) return fail(nghttp2_strerror(static_cast<int>(used)));
    }
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
    const char* name = refusalName(grpc_status_);
    const std::string status = name ? name : "gRPC status " + grpc_status_;
    return grpc_message_.empty() ? status : status + ": " + grpc_message_;
  }
  // "UNAUTHENTICATED: <message>" when the control plane refused the stream; "" otherwise.
  std::string refusal() const {
    return refusalName(grpc_status_) != nullptr ? endReason() : std::string();
  }

  // Messages received whole, in order.
  std::deque<v1::ControlMessage>& messages() { return messages_; }

 private:
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  // An SSL_read/SSL_write failure as a sentence.
  std::string ioError(const char* op, int ssl_error) const {
    if (ssl_error == SSL_ERROR_SYSCALL) {
      const std::string reason = opensslReason();
      if (!reason.empty()) return std::string(op) + ": " + reason;
      return errno != 0 ? std::string(op) + ": " + errnoText(errno)
                        : "connection closed by the control plane";
    }
    const std::string reason = opensslReason();
    return std::string(op) + ": TLS error" + (reason.empty() ? "" : ": " + reason);
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
  SSL* ssl_;
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

namespace {

// Runs the TLS handshake on a connected socket: the control plane's certificate verified against
// the roots of `ctx` and for `server_name`, HTTP/2 negotiated. Null with `error` set when it fails.
Ssl handshake(SSL_CTX* ctx, int fd, const std::string& server_name, const std::string& trusted,
              std::string& error) {
  Ssl ssl(SSL_new(ctx));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    error = "cannot start TLS: " + opensslReason();
    return nullptr;
  }
  // SNI carries DNS names only (RFC 6066); an IP address is checked against the IP SANs.
  if (isIpAddress(server_name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), server_name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
    SSL_set1_host(ssl.get(), server_name.c_str());
  }
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl.get(), kAlpn, sizeof(kAlpn));
  const Clock::time_point deadline = Clock::now() + kConnectTimeout;
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int e = SSL_get_error(ssl.get(), rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      const int ready = waitFd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left);
      if (ready > 0) continue;
      error = ready == 0 ? "TLS handshake timed out after " +
                               std::to_string(kConnectTimeout.count() / 1000) + " s"
                         : "poll: " + errnoText(errno);
      return nullptr;
    }
    const long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK) {
      error = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
      if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        error += " (the certificate is not for " + server_name + "; see --control-server-name)";
      } else {
        error += " (trusting " + trusted + ")";
      }
      ERR_clear_error();
      return nullptr;
    }
    const std::string reason = opensslReason();
    if (e == SSL_ERROR_SYSCALL && reason.empty()) {
      error = "TLS handshake failed: " + (errno != 0 ? errnoText(errno)
                                                     : std::string("the control plane closed the "
                                                                   "connection"));
    } else {
      error = "TLS handshake failed: " + (reason.empty() ? std::string("unknown error") : reason);
      // What a plaintext server's first bytes look like to a TLS client.
      if (reason == "wrong version number") error += " (is the control plane serving TLS there?)";
    }
    return nullptr;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_len);
  // A server without ALPN may still speak HTTP/2; one that picked something else does not.
  if (alpn_len != 0 && std::string_view(reinterpret_cast<const char*>(alpn), alpn_len) != "h2") {
    error = "the control plane negotiated " +
            std::string(reinterpret_cast<const char*>(alpn), alpn_len) + " instead of h2";
    return nullptr;
  }
  return ssl;
}

}  // namespace

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

std::shared_ptr<const translate::WorkloadIdentity> ControlClient::certificate() const {
  std::lock_guard lock(mu_);
  return certificate_;
}

std::string ControlClient::refusal() const {
  std::lock_guard lock(mu_);
  return refusal_;
}

std::string ControlClient::lastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

bool ControlClient::waitToRetry(milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void ControlClient::run() {
  // OpenSSL writes to the socket with write(), not send(MSG_NOSIGNAL): a control plane that went
  // away must be an EPIPE for this thread, not a SIGPIPE that ends the proxy. (Blocked, the
  // signal a write raises stays pending on this thread only, and is never delivered.)
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  std::minstd_rand random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  milliseconds backoff = options_.retry_delay;
  while (true) {
    if (runStream()) backoff = options_.retry_delay;
    const auto delay =
        milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) * jitter(random)));
    if (!waitToRetry(delay)) return;
    backoff = std::min(backoff * 2, options_.max_retry_delay);
  }
}

bool ControlClient::runStream() {
  // Everything read or made for this attempt is fresh: the token and the roots as the files are
  // now, a new key for the hello's CSR.
  v1::ProxyMessage hello;
  *hello.mutable_hello() = options_.hello;
  hello.mutable_hello()->set_last_version(assembler_.version());
  std::string error;
  if (!options_.token_file.empty()) {
    std::string token;
    if (!readFile(options_.token_file, "the token file", token, error)) {
      failed(error, false, "");
      return false;
    }
    token = trimmed(token);
    if (token.empty()) {
      failed("the token file " + options_.token_file +
                 " is empty; expected the credential `halyard token create` prints",
             false, "");
      return false;
    }
    hello.mutable_hello()->set_credential(std::move(token));
  }
  auto key = WorkloadKey::generate();
  auto csr = key ? key->csr() : common::Expected<std::string>(common::unexpected(key.error()));
  if (!csr) {
    failed(csr.error().message, false, "");
    return false;
  }
  hello.mutable_hello()->set_csr(std::move(*csr));
  SslCtx ctx = clientContext(options_, error);
  if (!ctx) {
    failed(error, false, "");
    return false;
  }

  const int fd = connectTo(options_.address, error);
  if (fd < 0) {
    failed(error, true, "");
    return false;
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      return false;
    }
    fd_ = fd;
  }
  bool pushed = false;
  std::string refusal;
  const std::string trusted = options_.ca_file.empty() ? "the given roots" : options_.ca_file;
  if (Ssl ssl = handshake(ctx.get(), fd, options_.server_name, trusted, error)) {
    Stream stream(fd, ssl.get());
    pushed = serve(stream, hello, std::move(*key));
    error = stream.endReason();
    refusal = stream.refusal();
    // close_notify, best effort: the socket may be gone already.
    if (!stream.closed()) SSL_shutdown(ssl.get());
  }
  {
    std::lock_guard lock(mu_);
    fd_ = -1;
  }
  ::close(fd);
  failed(error, false, refusal);
  return pushed;
}

void ControlClient::failed(const std::string& error, bool unreachable, const std::string& refusal) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    last_error_ = error;
    if (!refusal.empty()) refusal_ = refusal;
  }
  // Logged once per lost connection and once per distinct reason after it: the retries that
  // follow stay quiet until something changes.
  if (connected_logged_) {
    connected_logged_ = false;
    failure_logged_.clear();
    HLOG_WARN("control plane stream to {} ended: {}; reconnecting", options_.address, error);
    return;
  }
  const std::string key = unreachable ? std::string("unreachable") : error;
  if (key == failure_logged_) return;
  failure_logged_ = key;
  if (unreachable) {
    HLOG_WARN("control plane at {} unreachable ({}); retrying", options_.address, error);
  } else if (!refusal.empty()) {
    HLOG_WARN("control plane {} refused this proxy: {}; retrying", options_.address, refusal);
  } else {
    HLOG_WARN("control plane {}: {}; retrying", options_.address, error);
  }
}

bool ControlClient::serve(Stream& stream, const v1::ProxyMessage& hello, WorkloadKey key) {
  if (!stream.open(options_.address)) return false;
  stream.send(hello);
  pending_key_.emplace(std::move(key));
  next_request_ = Clock::time_point::max();
  bool pushed = false;
  Clock::time_point next_ping = Clock::now() + kKeepaliveTime;
  Clock::time_point ping_deadline = Clock::time_point::max();
  while (stream.flush() && !stream.closed()) {
    const Clock::time_point wake = std::min({next_ping, ping_deadline, next_request_});
    const auto wait = std::chrono::duration_cast<milliseconds>(wake - Clock::now());
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
    if (now >= next_request_) requestCertificate(stream);
    auto& messages = stream.messages();
    while (!messages.empty()) {
      v1::ControlMessage in = std::move(messages.front());
      messages.pop_front();
      if (!connected_logged_) {
        connected_logged_ = true;
        failure_logged_.clear();
        {
          std::lock_guard lock(mu_);
          refusal_.clear();
          last_error_.clear();
        }
        HLOG_INFO("connected to the control plane at {}", options_.address);
      }
      if (in.has_certificate()) {
        onIssued(in.certificate());
        continue;
      }
      if (in.has_certificate_error()) {
        onCertificateError(in.certificate_error());
        continue;
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
  // The next stream asks with a new key; nothing outstanding survives this one.
  pending_key_.reset();
  next_request_ = Clock::time_point::max();
  return pushed;
}

void ControlClient::onIssued(const v1::CertificateIssued& issued) {
  if (!pending_key_) {
    HLOG_WARN("the control plane sent a workload certificate this proxy did not ask for; ignored");
    return;
  }
  auto identity = pending_key_->identityFor(issued.certificate_chain(), issued.root_certificates());
  pending_key_.reset();
  if (!identity) {
    HLOG_WARN("refused the workload certificate from {}: {}; {}", options_.address,
              identity.error().message,
              certificate() ? "keeping the previous one" : "still without one");
    retryCertificateLater();
    return;
  }
  if (!issued.spiffe_id().empty() && issued.spiffe_id() != identity->spiffe_id) {
    HLOG_WARN("the control plane says the workload certificate is for {}, but it names {}",
              issued.spiffe_id(), identity->spiffe_id);
  }
  auto shared = std::make_shared<const translate::WorkloadIdentity>(std::move(*identity));
  // Rotation at about half of the lifetime, jittered by a few percent so that proxies issued
  // together do not all ask again in the same second. A lifetime already half gone on arrival (a
  // backdated notBefore, a skewed clock) counts from now.
  std::minstd_rand random(std::random_device{}());
  const double share = std::uniform_real_distribution<double>(0.47, 0.53)(random);
  const int64_t now = epochNow();
  const auto lifetime = static_cast<double>(shared->not_after - shared->not_before);
  double rotate_at = static_cast<double>(shared->not_before) + lifetime * share;
  if (rotate_at <= static_cast<double>(now)) {
    rotate_at = static_cast<double>(now) + static_cast<double>(shared->not_after - now) * share;
  }
  const auto in =
      std::max(milliseconds(1000),
               milliseconds(static_cast<int64_t>((rotate_at - static_cast<double>(now)) * 1000)));
  next_request_ = Clock::now() + in;
  HLOG_INFO("workload certificate for {} issued (serial {}, valid until {}); renewing in {} s",
            shared->spiffe_id, shared->serial_hex, isoTime(shared->not_after), in.count() / 1000);
  {
    std::lock_guard lock(mu_);
    certificate_ = shared;
  }
  if (on_certificate_) on_certificate_(std::move(shared));
}

void ControlClient::onCertificateError(const v1::CertificateError& error) {
  pending_key_.reset();
  HLOG_WARN("the control plane could not sign this proxy's certificate request: {}", error.error());
  retryCertificateLater();
}

void ControlClient::retryCertificateLater() {
  milliseconds delay = options_.certificate_retry_delay;
  std::shared_ptr<const translate::WorkloadIdentity> current = certificate();
  if (current) {
    const int64_t left_ms = (current->not_after - epochNow()) * 1000;
    delay = std::min(delay, milliseconds(left_ms / 10));
  }
  delay = std::max(delay, milliseconds(1000));
  next_request_ = Clock::now() + delay;
  HLOG_INFO("asking for a workload certificate again in {} ms", delay.count());
}

void ControlClient::requestCertificate(Stream& stream) {
  next_request_ = Clock::time_point::max();
  auto key = WorkloadKey::generate();
  auto csr = key ? key->csr() : common::Expected<std::string>(common::unexpected(key.error()));
  if (!csr) {
    HLOG_ERROR("cannot make a certificate request: {}", csr.error().message);
    retryCertificateLater();
    return;
  }
  v1::ProxyMessage request;
  request.mutable_certificate_request()->set_csr(std::move(*csr));
  stream.send(request);
  pending_key_.emplace(std::move(*key));
  HLOG_INFO("asked the control plane for a new workload certificate (new key)");
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
