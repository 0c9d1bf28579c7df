#include "proxy/tls/client_context.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <functional>

namespace halyard::proxy::tls {

namespace {

// Per request (the auto SNI): a stack copy, since inet_pton wants a terminated string.
bool isIpAddress(std::string_view host) {
  if (host.starts_with('[')) return true;  // an IPv6 literal as an authority writes it
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (host.empty() || host.size() >= text.size()) return false;
  std::copy(host.begin(), host.end(), text.begin());
  unsigned char buf[16];
  return inet_pton(AF_INET, text.data(), buf) == 1 || inet_pton(AF_INET6, text.data(), buf) == 1;
}

uint64_t mix(uint64_t seed, std::string_view text) {
  return (seed ^ std::hash<std::string_view>{}(text)) * 0x100000001b3ull;
}

// After the chain verified, the configured subjectAltNames are checked on the leaf (the auto
// SAN, the server name, is checked by OpenSSL's host verification set per connection).
int verifyServer(int preverified, X509_STORE_CTX* store) {
  if (!preverified || X509_STORE_CTX_get_error_depth(store) != 0) return preverified;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const ClientContext* client = ClientContext::of(SSL_get_SSL_CTX(ssl));
  if (!client || client->serverChecks().empty()) return 1;
  if (!checkCertificate(X509_STORE_CTX_get_current_cert(store), client->serverChecks()).empty()) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
    return 0;
  }
  return 1;
}

}  // namespace

const ClientContext* ClientContext::of(SSL_CTX* ctx) {
  return static_cast<const ClientContext*>(ownerOf(ctx));
}

common::Expected<std::unique_ptr<ClientContext>> ClientContext::build(
    const translate::UpstreamTls& tls, PemLoader& loader) {
  std::unique_ptr<ClientContext> self(new ClientContext());
  self->settings_ = tls;
  auto created = newOwnedContext(TLS_client_method(), self.get());
  if (!created) return common::unexpected(created.error());
  self->ctx_ = std::move(*created);
  SSL_CTX* ctx = self->ctx_.get();
  auto failed = [&](std::string message) {
    return common::fail(common::ErrorKind::kInvalidArgument, tls.origin + ": " + message);
  };
  using Mode = translate::UpstreamTls::Mode;
  const bool mutual = tls.mode == Mode::kMutual || tls.mode == Mode::kIstioMutual;
  uint64_t hash = mix(0xcbf29ce484222325ull, tls.mode == Mode::kIstioMutual ? "istio"
                                             : mutual                       ? "mutual"
                                                                            : "simple");

  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  static constexpr unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn) - 1);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

  if (!tls.insecure_skip_verify) {
    if (tls.ca.empty()) {
      SSL_CTX_set_default_verify_paths(ctx);
    } else {
      auto ca = loader.load(tls.ca);
      if (!ca) return failed(ca.error().message);
      auto trusted = trustCertificates(ctx, *ca, tls.ca.origin, false);
      if (!trusted) return failed(trusted.error().message);
      hash = mix(hash, *ca);
    }
    if (!tls.crl.empty()) {
      auto crl = loader.load(tls.crl);
      if (!crl) return failed(crl.error().message);
      auto used = useCrl(ctx, *crl, tls.crl.origin);
      if (!used) return failed(used.error().message);
      hash = mix(hash, *crl);
    }
    self->server_checks_.subject_alt_names = tls.subject_alt_names;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verifyServer);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    hash = mix(hash, "insecure");
  }
  if (mutual) {
    const auto& cert = tls.client_certificate;
    if (cert.certificate_chain.empty() || cert.private_key.empty()) {
      return failed("tls.mode MUTUAL needs clientCertificate and privateKey");
    }
    auto chain = loader.load(cert.certificate_chain);
    if (!chain) return failed(chain.error().message);
    auto key = loader.load(cert.private_key);
    if (!key) return failed(key.error().message);
    auto used = useCertificate(ctx, *chain, *key, cert.certificate_chain.origin);
    if (!used) return failed(used.error().message);
    // A rotated workload certificate keeps the mesh's warm connections: they were
    // authenticated when made, and the roots (in the hash) still say whom to trust.
    if (tls.mode != Mode::kIstioMutual) hash = mix(mix(hash, *chain), *key);
  }
  hash = mix(hash, tls.sni);
  for (const auto& san : tls.subject_alt_names) hash = mix(hash, san);
  self->hash_ = hash;
  return self;
}

std::string_view ClientContext::serverName(std::string_view host) const {
  if (!settings_.sni.empty()) return settings_.sni;
  return isIpAddress(host) ? std::string_view() : host;
}

SSL* ClientContext::newSession(std::string_view server_name) const {
  SSL* ssl = SSL_new(ctx_.get());
  if (!ssl) return nullptr;
  const std::string name(server_name);
  if (!name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
  // Istio mutual TLS sends "outbound_.80_._.host" as SNI, which no certificate carries: the
  // chain to the mesh roots (and the SPIFFE IDs, when known) is what identifies the server.
  if (!settings_.insecure_skip_verify && settings_.subject_alt_names.empty() && !name.empty() &&
      settings_.mode != translate::UpstreamTls::Mode::kIstioMutual) {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl, name.c_str());
  }
  return ssl;
}

uint64_t transportKey(const ClientContext& context, std::string_view server_name) {
  return mix(context.settingsHash(), server_name) | 1;  // never 0, the plaintext key
}

}  // namespace halyard::proxy::tls
