#include "proxy/tls/server_context.h"

#include <openssl/err.h>

#include <cstring>
#include <string_view>

namespace halyard::proxy::tls {

namespace {

// Istio's gateway default on TLS 1.2: forward secrecy and AEAD only. TLS 1.3 suites are all AEAD.
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
constexpr unsigned char kSessionContext[] = "halyard";

// After the chain verified, the leaf gets the server's SAN / SPKI / hash checks.
int verifyClient(int preverified, X509_STORE_CTX* store) {
  if (!preverified || X509_STORE_CTX_get_error_depth(store) != 0) return preverified;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const ServerContext* server = ServerContext::of(SSL_get_SSL_CTX(ssl));
  if (!server || server->clientChecks().empty()) return 1;
  if (!checkCertificate(X509_STORE_CTX_get_current_cert(store), server->clientChecks()).empty()) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}

// HTTP/2 when the client offers it (the connection manager then runs the HTTP/2 codec), else
// HTTP/1.1, whatever the order of the client's list; neither offered: no ALPN at all.
bool offered(const unsigned char* in, unsigned int in_len, std::string_view protocol,
             const unsigned char** out, unsigned char* out_len) {
  for (unsigned int i = 0; i < in_len;) {
    const unsigned int len = in[i];
    if (i + 1 + len > in_len) break;
    if (len == protocol.size() && std::memcmp(in + i + 1, protocol.data(), len) == 0) {
      *out = in + i + 1;
      *out_len = static_cast<unsigned char>(len);
      return true;
    }
    i += 1 + len;
  }
  return false;
}

int selectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void*) {
  if (offered(in, in_len, "h2", out, out_len) || offered(in, in_len, "http/1.1", out, out_len)) {
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

const ServerContext* ServerContext::of(SSL_CTX* ctx) {
  return static_cast<const ServerContext*>(ownerOf(ctx));
}

common::Expected<std::unique_ptr<ServerContext>> ServerContext::build(
    const translate::ServerTls& tls, PemLoader& loader) {
  std::unique_ptr<ServerContext> self(new ServerContext());
  self->settings_ = tls;
  auto created = newOwnedContext(TLS_server_method(), self.get());
  if (!created) return common::unexpected(created.error());
  self->ctx_ = std::move(*created);
  SSL_CTX* ctx = self->ctx_.get();
  auto failed = [&](std::string message) {
    return common::fail(common::ErrorKind::kInvalidArgument, tls.origin + ": " + message);
  };

  if (tls.certificates.empty()) return failed("no certificate");
  for (const auto& cert : tls.certificates) {
    auto chain = loader.load(cert.certificate_chain);
    if (!chain) return failed(chain.error().message);
    auto key = loader.load(cert.private_key);
    if (!key) return failed(key.error().message);
    auto used = useCertificate(ctx, *chain, *key, cert.certificate_chain.origin);
    if (!used) return failed(used.error().message);
  }

  const int min_version = opensslVersion(tls.min_version);
  SSL_CTX_set_min_proto_version(ctx, min_version ? min_version : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, opensslVersion(tls.max_version));
  self->ciphers_ = tls.cipher_suites.empty() ? kDefaultCiphers : joinCiphers(tls.cipher_suites);
  if (SSL_CTX_set_cipher_list(ctx, self->ciphers_.c_str()) != 1) {
    return failed("no usable cipher in cipherSuites: " + self->ciphers_);
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

  using Mode = translate::ServerTls::Mode;
  if (tls.mode != Mode::kSimple) {
    if (tls.client_ca.empty()) return failed("tls.mode MUTUAL needs a CA for client certificates");
    auto ca = loader.load(tls.client_ca);
    if (!ca) return failed(ca.error().message);
    auto trusted = trustCertificates(ctx, *ca, tls.client_ca.origin, true);
    if (!trusted) return failed(trusted.error().message);
    if (!tls.crl.empty()) {
      auto crl = loader.load(tls.crl);
      if (!crl) return failed(crl.error().message);
      auto used = useCrl(ctx, *crl, tls.crl.origin);
      if (!used) return failed(used.error().message);
    }
    self->verify_mode_ = SSL_VERIFY_PEER;
    if (tls.mode != Mode::kOptionalMutual) self->verify_mode_ |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    self->client_checks_ = CertificateChecks{.subject_alt_names = tls.subject_alt_names,
                                             .spki_sha256 = tls.verify_spki,
                                             .cert_sha256 = tls.verify_hash};
  }
  SSL_CTX_set_verify(ctx, self->verify_mode_, self->verify_mode_ ? verifyClient : nullptr);
  return self;
}

void ServerContext::applyTo(SSL* ssl) const {
  // The connection was made from this context: SSL_new copied all of it already (the common
  // case of one server per port costs no cipher-list parse per handshake).
  if (SSL_get_SSL_CTX(ssl) == ctx_.get()) return;
  SSL_set_SSL_CTX(ssl, ctx_.get());
  SSL_set_verify(ssl, verify_mode_, verify_mode_ ? verifyClient : nullptr);
  SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx_.get()));
  SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx_.get()));
  SSL_set_cipher_list(ssl, ciphers_.c_str());
  SSL_set_options(ssl, SSL_CTX_get_options(ctx_.get()));
}

}  // namespace halyard::proxy::tls
