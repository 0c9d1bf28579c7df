// A small PKI for tests: a root CA and SPIFFE workload certificates signed by it, made with
// OpenSSL in memory (ECDSA P-256), as the control plane's CA issues them.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "translate/workload_identity.h"

namespace halyard::proxy::tls::testing {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

inline std::string pemOf(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

inline std::string pemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

inline void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key`, signed by `issuer_key` (self-signed when `issuer` is null).
inline CertPtr issue(EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, bool ca,
                     const std::string& uri_san, long serial) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  if (ca) {
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("test mesh"), -1, -1, 0);
  }
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer ? issuer : cert.get()));
  X509* signer = issuer ? issuer : cert.get();
  addExtension(cert.get(), signer, NID_basic_constraints,
               ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  addExtension(cert.get(), signer, NID_key_usage,
               ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  if (!ca) {
    addExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    addExtension(cert.get(), signer, NID_subject_alt_name, ("critical,URI:" + uri_san).c_str());
  }
  X509_sign(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

class TestPki {
 public:
  TestPki() : root_key_(EVP_EC_gen("P-256")) {
    root_ = issue(root_key_.get(), nullptr, root_key_.get(), true, "", 1);
  }

  const std::string rootPem() const { return pemOf(root_.get()); }

  // A workload identity for `spiffe_id`, as the CA would issue it.
  translate::WorkloadIdentity identity(const std::string& spiffe_id) {
    KeyPtr key(EVP_EC_gen("P-256"));
    CertPtr leaf = issue(key.get(), root_.get(), root_key_.get(), false, spiffe_id, ++serial_);
    translate::WorkloadIdentity id;
    id.spiffe_id = spiffe_id;
    id.certificate_chain_pem = pemOf(leaf.get());
    id.private_key_pem = pemOf(key.get());
    id.root_certificates_pem = rootPem();
    return id;
  }

 private:
  KeyPtr root_key_;
  CertPtr root_;
  long serial_ = 100;
};

}  // namespace halyard::proxy::tls::testing
