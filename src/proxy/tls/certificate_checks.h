// The checks of a peer certificate beyond its chain, as Envoy's certificate validator makes
// them for Istio: subject alternative names (DNS with wildcards, URI such as SPIFFE IDs, IP),
// the SHA-256 of its public key (SPKI, base64) and of the certificate itself (hex).
#pragma once

#include <openssl/x509.h>

#include <string>
#include <vector>

namespace halyard::proxy::tls {

struct CertificateChecks {
  std::vector<std::string> subject_alt_names;  // any one must be carried by the certificate
  std::vector<std::string> spki_sha256;        // base64; any one must match
  std::vector<std::string> cert_sha256;        // hex, colons allowed; any one must match
  bool empty() const {
    return subject_alt_names.empty() && spki_sha256.empty() && cert_sha256.empty();
  }
};

// Empty when the certificate passes; else why not ("no subject alternative name matches ...").
std::string checkCertificate(X509* cert, const CertificateChecks& checks);

// The certificate's first URI SAN (a SPIFFE identity in the mesh), or empty.
std::string firstUriSan(X509* cert);

// The SHA-256 of the certificate's DER, lowercase hex (x-forwarded-client-cert's Hash).
std::string certificateSha256(X509* cert);

}  // namespace halyard::proxy::tls
