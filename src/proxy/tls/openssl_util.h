// Small RAII and PEM helpers over OpenSSL's C API, shared by the server and client contexts.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "translate/snapshot.h"

namespace halyard::proxy::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// A new context whose ex-data slot points back at `owner` (see ownerOf), so OpenSSL's callbacks
// can find the ServerContext or ClientContext it belongs to.
common::Expected<SslCtxPtr> newOwnedContext(const SSL_METHOD* method, const void* owner);
const void* ownerOf(SSL_CTX* ctx);

// OpenSSL's queued errors as one sentence (and the queue cleared).
std::string opensslErrors();

// Every certificate of a PEM text, in order; an error when there is none.
common::Expected<std::vector<X509Ptr>> parseCertificates(std::string_view pem,
                                                         std::string_view origin);

// Installs a certificate chain (leaf first) and its private key into `ctx`; an error when they
// do not parse or do not belong together.
common::Expected<void> useCertificate(SSL_CTX* ctx, std::string_view chain_pem,
                                      std::string_view key_pem, std::string_view origin);

// Adds every certificate of `pem` to the context's verification store; with `announce`, also
// names them as acceptable issuers in a server's certificate request.
common::Expected<void> trustCertificates(SSL_CTX* ctx, std::string_view pem,
                                         std::string_view origin, bool announce);

// Adds the revocation lists of `pem` to the store and turns revocation checking on for the leaf.
common::Expected<void> useCrl(SSL_CTX* ctx, std::string_view pem, std::string_view origin);

int opensslVersion(translate::TlsVersion version);  // 0 for kAuto

// The settings' key material, read once: PEM text by source, through `load`.
std::string joinCiphers(const std::vector<std::string>& names);

}  // namespace halyard::proxy::tls
