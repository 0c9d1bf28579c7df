#include "proxy/tls/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>

namespace halyard::proxy::tls {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memoryBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

common::Unexpected<common::Error> failWith(std::string_view what, std::string_view origin) {
  std::string message(what);
  message.append(" (").append(origin).append(")");
  const std::string details = opensslErrors();
  if (!details.empty()) message.append(": ").append(details);
  return common::fail(common::ErrorKind::kInvalidArgument, message);
}

int ownerIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

common::Expected<SslCtxPtr> newOwnedContext(const SSL_METHOD* method, const void* owner) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return common::fail(common::ErrorKind::kInternal, "SSL_CTX_new: " + opensslErrors());
  SSL_CTX_set_ex_data(ctx.get(), ownerIndex(), const_cast<void*>(owner));
  return ctx;
}

const void* ownerOf(SSL_CTX* ctx) {
  return SSL_CTX_get_ex_data(ctx, ownerIndex());
}

std::string opensslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason ? reason : "unknown OpenSSL error";
  }
  return out;
}

common::Expected<std::vector<X509Ptr>> parseCertificates(std::string_view pem,
                                                         std::string_view origin) {
  BioPtr bio = memoryBio(pem);
  std::vector<X509Ptr> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the read that ends the loop reports "no start line"
  if (out.empty()) return failWith("no PEM certificate", origin);
  return out;
}

common::Expected<void> useCertificate(SSL_CTX* ctx, std::string_view chain_pem,
                                      std::string_view key_pem, std::string_view origin) {
  auto chain = parseCertificates(chain_pem, origin);
  if (!chain) return common::unexpected(chain.error());
  if (SSL_CTX_use_certificate(ctx, (*chain)[0].get()) != 1) {
    return failWith("certificate not usable", origin);
  }
  for (size_t i = 1; i < chain->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get()) != 1) {
      return failWith("intermediate certificate not usable", origin);
    }
  }
  BioPtr bio = memoryBio(key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) return failWith("no PEM private key", origin);
  const int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return failWith("the private key does not match the certificate", origin);
  }
  return common::Ok{};
}

common::Expected<void> trustCertificates(SSL_CTX* ctx, std::string_view pem,
                                         std::string_view origin, bool announce) {
  auto certs = parseCertificates(pem, origin);
  if (!certs) return common::unexpected(certs.error());
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& cert : *certs) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) ERR_clear_error();  // a duplicate is fine
    if (announce) SSL_CTX_add_client_CA(ctx, cert.get());
  }
  return common::Ok{};
}

common::Expected<void> useCrl(SSL_CTX* ctx, std::string_view pem, std::string_view origin) {
  BioPtr bio = memoryBio(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) return failWith("no PEM certificate revocation list", origin);
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  return common::Ok{};
}

int opensslVersion(translate::TlsVersion version) {
  switch (version) {
    case translate::TlsVersion::kAuto:
      return 0;
    case translate::TlsVersion::kTls10:
      return TLS1_VERSION;
    case translate::TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case translate::TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case translate::TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return 0;
}

std::string joinCiphers(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ':';
    out += n;
  }
  return out;
}

}  // namespace halyard::proxy::tls
