// One TLS-terminating Gateway server compiled into an OpenSSL context: its certificates
// (RSA and/or ECDSA), protocol versions, ciphers, and for MUTUAL / OPTIONAL_MUTUAL the client
// CA, revocation list and the extra checks of the client certificate. Immutable once built;
// shared by every worker (an SSL_CTX is safe to use from several threads).
#pragma once

#include <memory>
#include <string>

#include "common/error.h"
#include "proxy/tls/certificate_checks.h"
#include "proxy/tls/openssl_util.h"
#include "proxy/tls/pem_loader.h"
#include "translate/snapshot.h"

namespace halyard::proxy::tls {

class ServerContext {
 public:
  static common::Expected<std::unique_ptr<ServerContext>> build(const translate::ServerTls& tls,
                                                                PemLoader& loader);

  SSL_CTX* ctx() const { return ctx_.get(); }
  const translate::ServerTls& settings() const { return settings_; }
  const CertificateChecks& clientChecks() const { return client_checks_; }

  // Makes a connection whose ClientHello chose this server behave as it says: the context
  // (certificates), versions, ciphers and client-certificate verification. OpenSSL's switch of
  // context alone carries only the certificates over.
  void applyTo(SSL* ssl) const;

  // The context a ServerContext is found from inside OpenSSL's callbacks.
  static const ServerContext* of(SSL_CTX* ctx);

 private:
  ServerContext() = default;

  SslCtxPtr ctx_;
  translate::ServerTls settings_;
  CertificateChecks client_checks_;
  std::string ciphers_;
  int verify_mode_ = 0;
};

}  // namespace halyard::proxy::tls
