// The byte stream under every reader and writer of a connection, downstream and upstream:
// plaintext TCP, or TLS (OpenSSL through asio::ssl) over the same socket. The codec, the body
// reader, the tunnel and the relay read and write through it and never name a socket; the
// socket itself stays reachable for what only TCP knows (options, peeking for a hang-up,
// cancelling pending operations, closing).
//
// A closed set of three, chosen per connection at setup, rather than a virtual interface: each
// read and write is one or two predictable branches and no extra coroutine frame for TCP, which
// keeps the plaintext hot path as it was. The third is in memory (net/memory_pipe.h): the
// request path serving one stream of an HTTP/2 connection, upstream or downstream, reads and
// writes the stream's bytes from and to the HTTP/2 codec directly. Its socket stays unopened:
// socket options and endpoints on it fail quietly, as the callers already allow for.
#pragma once

#include <openssl/ssl.h>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "common/local_shared.h"
#include "proxy/net/awaitable.h"
#include "proxy/net/memory_pipe.h"

namespace halyard::proxy::net {

// The peer ended its stream: TCP's end of file, or a TLS peer that closed the TCP connection
// without a close_notify (most HTTP clients do; the HTTP framing tells whether anything was cut).
inline bool isEndOfStream(const asio::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

class Transport {
 public:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket&>;

  explicit Transport(asio::ip::tcp::socket socket);
  explicit Transport(const asio::any_io_executor& executor);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  asio::ip::tcp::socket& socket() { return socket_; }
  asio::any_io_executor executor() { return socket_.get_executor(); }
  bool secure() const { return tls_ != nullptr; }
  // The request path's side of an HTTP/2 stream's in-memory pipe, on a transport whose socket
  // was never opened: every read and write goes to `pipe` from here on. A pipe it replaces (the
  // transport serves another stream) is closed, as destroying the transport would.
  void usePipe(common::LocalShared<MemoryPipe> pipe) {
    if (pipe_ && pipe_ != pipe) pipe_->close();
    pipe_ = std::move(pipe);
  }
  bool inMemory() const { return pipe_ != nullptr; }
  const common::LocalShared<MemoryPipe>& pipe() const { return pipe_; }
  // A memory pipe's read, or write of `bytes`, would complete without waiting: no deadline
  // needs arming for it (always false for sockets).
  bool readsAtOnce() const { return pipe_ && pipe_->readReady(); }
  bool writesAtOnce(size_t bytes) const { return pipe_ && pipe_->writeReady(bytes); }

  // Layers TLS over the socket with `ssl` (a fresh SSL object from a context; ownership is
  // taken). The handshake is the caller's next step.
  void startTls(SSL* ssl);
  // The TLS handshake, as server or client; the error names OpenSSL's reason.
  awaitable<std::tuple<asio::error_code>> handshake(asio::ssl::stream_base::handshake_type type) {
    return tls_->async_handshake(type, kAwait);
  }

  template <class MutableBuffers>
  awaitable<std::tuple<asio::error_code, size_t>> readSome(const MutableBuffers& buffers) {
    if (tls_) return tls_->async_read_some(buffers, kAwait);
    if (pipe_) return pipe_->readSome(buffers);
    return socket_.async_read_some(buffers, kAwait);
  }
  template <class ConstBuffers>
  awaitable<std::tuple<asio::error_code, size_t>> writeAll(const ConstBuffers& buffers) {
    if (tls_) return asio::async_write(*tls_, buffers, kAwait);
    if (pipe_) return pipe_->writeAll(buffers);
    return asio::async_write(socket_, buffers, kAwait);
  }
  // readSome() / writeAll() of an in-memory transport that readsAtOnce() / writesAtOnce(): done
  // now, without a coroutine frame.
  template <class MutableBuffers>
  std::tuple<asio::error_code, size_t> readNow(const MutableBuffers& buffers) {
    return pipe_->readNow(buffers);
  }
  template <class ConstBuffers>
  std::tuple<asio::error_code, size_t> writeNow(const ConstBuffers& buffers) {
    return pipe_->writeNow(buffers);
  }
  // Waits for the peer to send something or go away without taking any byte (a one-byte
  // MSG_PEEK receive into `byte` on a socket): handler(ec, n) with n = 0 or an error when the
  // peer is gone. On TLS the TCP socket is peeked: records waiting mean the peer is there.
  template <class Handler>
  void peek(char& byte, Handler&& handler) {
    if (pipe_) return pipe_->peek(std::forward<Handler>(handler));
    socket_.async_receive(asio::buffer(&byte, 1), asio::socket_base::message_peek,
                          std::forward<Handler>(handler));
  }

  // Ends our sending side: a TCP half-close; TLS cannot half-close, so it is left to close().
  void shutdownSend();
  // Cancels every pending operation (timeouts, a peer that went away).
  void cancel();
  // Ends a pending peek whose handler has nothing left to do: an in-memory transport forgets it
  // (MemoryPipe::dropPeek); a socket cancels it, as cancel() does.
  void endPeek() {
    if (pipe_) return pipe_->dropPeek();
    cancel();
  }
  // Closes without throwing and without caring whether it was open.
  void close();

  // ---- TLS facts, empty for plaintext ----
  SSL* ssl() const { return tls_ ? tls_->native_handle() : nullptr; }
  std::string_view sni() const;           // the server name the client asked for
  std::string_view alpn() const;          // the negotiated protocol ("http/1.1"), or empty
  std::string_view tlsVersion() const;    // "TLSv1.3"
  std::string_view cipher() const;        // "TLS_AES_128_GCM_SHA256"
  bool peerCertificatePresented() const;  // the peer sent a certificate (verified by then)
  // The failure of the last handshake in words: OpenSSL's verify result when the certificate
  // check failed ("certificate verify failed: unable to get local issuer certificate"), else
  // the error's own message.
  std::string describeTlsError(const asio::error_code& ec) const;

 private:
  asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsStream> tls_;
  common::LocalShared<MemoryPipe> pipe_;
};

}  // namespace halyard::proxy::net
