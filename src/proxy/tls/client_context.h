// TLS this proxy originates to a cluster's endpoints (DestinationRule tls SIMPLE / MUTUAL),
// compiled into an OpenSSL client context: the CA that must have signed the server (or the
// system's), the client certificate for MUTUAL, and per connection the SNI and the names the
// server certificate must carry. Immutable once built; shared by every worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "proxy/tls/certificate_checks.h"
#include "proxy/tls/openssl_util.h"
#include "proxy/tls/pem_loader.h"
#include "translate/snapshot.h"

namespace halyard::proxy::tls {

class ClientContext {
 public:
  static common::Expected<std::unique_ptr<ClientContext>> build(const translate::UpstreamTls& tls,
                                                                PemLoader& loader);

  // The server name a connection for a request to `host` sends: the configured sni, else the
  // host itself (Istio's auto SNI); empty for an IP address, which SNI cannot carry.
  std::string_view serverName(std::string_view host) const;

  // A new SSL object for a connection that sends `server_name` and checks the server's
  // certificate against the configured subjectAltNames, or against `server_name` when none are
  // configured (Istio's auto SAN validation), unless insecureSkipVerify.
  SSL* newSession(std::string_view server_name) const;

  // Equal for two contexts built from equal settings and key material: with the server name,
  // the key under which upstream connections are pooled, so a reload that changed nothing keeps
  // the warm connections and one that changed the TLS settings does not reuse them.
  uint64_t settingsHash() const { return hash_; }
  const translate::UpstreamTls& settings() const { return settings_; }
  const CertificateChecks& serverChecks() const { return server_checks_; }

  static const ClientContext* of(SSL_CTX* ctx);

 private:
  ClientContext() = default;

  SslCtxPtr ctx_;
  translate::UpstreamTls settings_;
  CertificateChecks server_checks_;
  uint64_t hash_ = 0;
};

// The pool key of a TLS connection: the context's settings and the server name it sent.
uint64_t transportKey(const ClientContext& context, std::string_view server_name);

}  // namespace halyard::proxy::tls
