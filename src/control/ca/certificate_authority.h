// The control plane's certificate authority: signs the proxies' CSRs with SPIFFE workload
// certificates and issues the control plane's own serving certificate.
//
// Its keys live in a directory with Istio's plug-in CA file names (docs/control-protocol.md):
// ca-cert.pem (the signing certificate), ca-key.pem, root-cert.pem (the trust bundle) and
// cert-chain.pem (ca-cert's chain up to the root). When all four are there they are used as they
// are (an operator's intermediate under their own root); when none is there a self-signed root is
// made and written there, so the next start reuses it. Anything in between is refused.
//
// Whatever a CSR asks for (subject, SANs, extensions), the certificate carries only the identity
// the caller proved: an empty subject and one URI SAN. Thread-safe: signing takes a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "control/ca/openssl_util.h"

namespace halyard::control::ca {

// A certificate the CA issued.
struct IssuedCertificate {
  std::string chain_pem;  // the leaf, then ca-cert and the intermediates (never a self-signed root)
  std::string serial_hex;  // of the leaf, as `openssl x509 -serial` prints it
  int64_t not_before = 0;  // seconds since the epoch
  int64_t not_after = 0;
};

// One certificate's facts, for `halyard proxy-config secret`.
struct CertificateFacts {
  std::string serial_hex;
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::vector<std::string> uri_sans;
};
// The facts of the first certificate of `pem`; an error when there is none.
common::Expected<CertificateFacts> describeCertificate(const std::string& pem);

// The SANs of the control plane's serving certificate.
struct ServingNames {
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  std::vector<std::string> uris;
};

struct ServingCertificate {
  IssuedCertificate certificate;
  std::string private_key_pem;  // PKCS#8, ECDSA P-256
};

class CertificateAuthority {
 public:
  // File names in the CA directory (Istio's plug-in CA names).
  static constexpr const char* kCaCert = "ca-cert.pem";
  static constexpr const char* kCaKey = "ca-key.pem";
  static constexpr const char* kRootCert = "root-cert.pem";
  static constexpr const char* kCertChain = "cert-chain.pem";

  // Uses the plug-in files in `dir`, or creates a self-signed root there when it has none of them
  // (the directory made 0700 when absent). `organization` names a new root (O=...), usually the
  // trust domain.
  static common::Expected<std::unique_ptr<CertificateAuthority>> open(
      const std::string& dir, const std::string& organization = "cluster.local");

  // Signs a PEM CSR (ECDSA P-256 or P-384, or RSA of 2048+ bits, signature checked) for
  // `spiffe_id` only, valid for `ttl` from now (capped at ca-cert's expiry), with notBefore a
  // minute back for clock skew. Errors are sentences about the CSR.
  common::Expected<IssuedCertificate> signCsr(const std::string& csr_pem,
                                              const std::string& spiffe_id,
                                              std::chrono::seconds ttl) const;

  // A fresh ECDSA P-256 key and a certificate for it with these SANs (the control plane's TLS).
  common::Expected<ServingCertificate> issueServing(const ServingNames& names,
                                                    std::chrono::seconds ttl) const;

  // root-cert.pem: the certificates every workload trusts for the mesh.
  const std::string& rootCertificatesPem() const { return roots_pem_; }
  const std::string& dir() const { return dir_; }
  // True when the CA is the self-signed root it made (not an operator's plug-in CA).
  bool selfSigned() const { return self_signed_; }
  // The signing certificate's expiry (seconds since the epoch).
  int64_t notAfter() const { return not_after_; }

 private:
  CertificateAuthority() = default;

  common::Expected<void> load(bool created);
  // Builds and signs a leaf for `key` with these SANs. Called under mu_.
  common::Expected<IssuedCertificate> issue(EVP_PKEY* key, const ServingNames& sans,
                                            std::chrono::seconds ttl) const;

  std::string dir_;
  X509Ptr ca_cert_;
  PkeyPtr ca_key_;
  std::vector<X509Ptr> intermediates_;  // after ca-cert in issued chains
  std::string roots_pem_;
  std::string chain_tail_pem_;  // ca-cert and intermediates, PEM, in chain order
  bool self_signed_ = false;
  int64_t not_after_ = 0;
  mutable std::mutex mu_;
};

}  // namespace halyard::control::ca
