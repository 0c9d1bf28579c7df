#include "proxy/net/transport.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include "proxy/net/socket_util.h"

namespace halyard::proxy::net {

Transport::Transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

Transport::Transport(const asio::any_io_executor& executor) : socket_(executor) {}

Transport::~Transport() {
  if (pipe_) pipe_->close();
}

void Transport::startTls(SSL* ssl) {
  tls_ = std::make_unique<TlsStream>(socket_, ssl);
}

void Transport::shutdownSend() {
  if (pipe_) return pipe_->shutdownSend();
  if (tls_) return;
  asio::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
}

void Transport::cancel() {
  if (pipe_) return pipe_->cancel();
  asio::error_code ignored;
  socket_.cancel(ignored);
}

void Transport::close() {
  if (pipe_) pipe_->close();
  closeQuietly(socket_);
}

std::string_view Transport::sni() const {
  if (!tls_) return {};
  const char* name = SSL_get_servername(ssl(), TLSEXT_NAMETYPE_host_name);
  return name ? std::string_view(name) : std::string_view();
}

std::string_view Transport::alpn() const {
  if (!tls_) return {};
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl(), &data, &size);
  return {reinterpret_cast<const char*>(data), size};
}

std::string_view Transport::tlsVersion() const {
  return tls_ ? std::string_view(SSL_get_version(ssl())) : std::string_view();
}

std::string_view Transport::cipher() const {
  if (!tls_) return {};
  const char* name = SSL_get_cipher_name(ssl());
  return name ? std::string_view(name) : std::string_view();
}

bool Transport::peerCertificatePresented() const {
  return tls_ && SSL_get0_peer_certificate(ssl()) != nullptr;
}

std::string Transport::describeTlsError(const asio::error_code& ec) const {
  if (tls_) {
    const long verify = SSL_get_verify_result(ssl());
    if (verify != X509_V_OK) {
      return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason) return reason;
  }
  return ec.message();
}

}  // namespace halyard::proxy::net
