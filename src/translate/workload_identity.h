// A proxy's mesh identity: its workload certificate, the key it made for it, and the roots it
// trusts for the mesh. Issued by the control plane's CA for the proxy's CSR (the key never leaves
// the proxy) and replaced at about half of its lifetime. Not part of the snapshot: it changes on
// its own schedule, and the data plane builds its mesh TLS contexts from the current one.
#pragma once

#include <cstdint>
#include <string>

namespace halyard::translate {

struct WorkloadIdentity {
  std::string spiffe_id;              // spiffe://cluster.local/ns/shop/sa/web
  std::string certificate_chain_pem;  // the leaf first, then intermediates
  std::string private_key_pem;        // PKCS#8 PEM, ECDSA P-256
  std::string root_certificates_pem;  // the mesh trust bundle
  std::string serial_hex;             // of the leaf, as `openssl x509 -serial` prints it
  int64_t not_before = 0;             // seconds since the epoch
  int64_t not_after = 0;
};

}  // namespace halyard::translate
