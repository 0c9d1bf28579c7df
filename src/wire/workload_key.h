// The proxy's side of its workload certificate: a key it makes itself (ECDSA P-256), the CSR it
// sends for it, and the check of what the control plane's CA issues for that CSR. The private
// key lives in memory only, never on disk: a proxy that restarts makes a new one and asks again.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "translate/workload_identity.h"

namespace halyard::wire {

// What a leaf certificate says about itself.
struct CertificateInfo {
  std::string serial_hex;  // as `openssl x509 -serial` prints it: uppercase, whole bytes
  int64_t not_before = 0;  // seconds since the epoch
  int64_t not_after = 0;
  std::string uri_san;  // the first URI subjectAltName ("" when there is none)
};

// The first certificate of a PEM chain, described; an error when there is none or it does not
// parse.
common::Expected<CertificateInfo> describeLeaf(std::string_view chain_pem);

class WorkloadKey {
 public:
  // A new ECDSA P-256 key.
  static common::Expected<WorkloadKey> generate();

  // The PEM copy of the key is wiped when the key goes (the WorkloadIdentity has its own).
  ~WorkloadKey();
  WorkloadKey(WorkloadKey&&) noexcept = default;
  WorkloadKey& operator=(WorkloadKey&& other) noexcept;

  // A PEM certificate signing request for this key, signed with it (SHA-256). `spiffe_id`, when
  // not empty, is asked for as the URI subjectAltName; the CA decides the names anyway.
  common::Expected<std::string> csr(std::string_view spiffe_id = {}) const;

  // The key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), what the TLS contexts load.
  const std::string& privateKeyPem() const { return private_key_pem_; }

  // The identity a chain issued for this key gives: the leaf described, the chain, the roots and
  // this key. Refused when the leaf's public key is not this key's (a chain for another CSR), the
  // chain or the roots do not parse, or the leaf has no URI subjectAltName (SPIFFE ID).
  common::Expected<translate::WorkloadIdentity> identityFor(std::string_view chain_pem,
                                                            std::string_view roots_pem) const;

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const;
  };
  WorkloadKey() = default;

  std::unique_ptr<EVP_PKEY, Free> key_;
  std::string private_key_pem_;
};

}  // namespace halyard::wire
