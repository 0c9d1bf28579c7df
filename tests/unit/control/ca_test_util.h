// Helpers for the CA tests: keys, CSRs and CAs made with OpenSSL the way an operator or a proxy
// would make them, independently of the code under test.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <string>
#include <vector>

#include "control/ca/openssl_util.h"

namespace halyard::control::testing {

using ca::PkeyPtr;
using ca::X509Ptr;

inline PkeyPtr ecKey(const char* curve = "P-256") {
  return PkeyPtr(EVP_EC_gen(curve));
}

inline PkeyPtr rsaKey(unsigned int bits) {
  return PkeyPtr(EVP_RSA_gen(bits));
}

// A PEM CSR for `key` asking for a subject CN and these SANs ("URI:...", "DNS:..."), signed by
// `signer` (by default the key itself; another key makes the signature invalid).
inline std::string makeCsr(EVP_PKEY* key, const std::string& common_name = "",
                           const std::string& sans = "", EVP_PKEY* signer = nullptr) {
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_REQ_set_pubkey(req, key);
  if (!common_name.empty()) {
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
  }
  if (!sans.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(
        exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, sans.c_str()));
    X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  X509_REQ_sign(req, signer ? signer : key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int)
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  X509_REQ_free(req);
  return out;
}

inline std::string makeCsr(const std::string& common_name = "", const std::string& sans = "") {
  PkeyPtr key = ecKey();
  return makeCsr(key.get(), common_name, sans);
}

// A CA certificate for `key` named CN=`name`, signed by `issuer_key` as `issuer` (self-signed
// when issuer is null). `ca` false makes an end-entity certificate instead.
inline X509Ptr makeCaCert(EVP_PKEY* key, const std::string& name, X509* issuer,
                          EVP_PKEY* issuer_key, bool ca = true, long days = 365) {  // NOLINT
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  static long serial = 1000;  // NOLINT
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(),
                       issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add(NID_subject_key_identifier, "hash");
  if (issuer) add(NID_authority_key_identifier, "keyid");
  X509_sign(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

// Whether `chain_pem` (leaf first, then intermediates) verifies against `roots_pem`, as a peer
// would check it; the OpenSSL error otherwise.
inline std::string verifyChain(const std::string& chain_pem, const std::string& roots_pem) {
  auto chain = ca::parseCertificates(chain_pem);
  auto roots = ca::parseCertificates(roots_pem);
  if (chain.empty()) return "no leaf";
  X509_STORE* store = X509_STORE_new();
  for (auto& r : roots) X509_STORE_add_cert(store, r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, chain[0].get(), untrusted);
  std::string out;
  if (X509_verify_cert(ctx) != 1)
    out = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  return out;
}

}  // namespace halyard::control::testing
