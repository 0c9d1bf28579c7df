// A throwaway certificate authority for the wire tests: a self-signed EC root, server
// certificates for a fake control plane, and workload certificates signed for a CSR's key (or
// for any other key, to check that the proxy refuses them).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace halyard::wire::testing {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

inline Pkey newKey() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

inline std::string pemOf(X509* cert) {
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(out, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(out);
  return pem;
}

inline std::string pemOf(EVP_PKEY* key) {
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(out);
  return pem;
}

// The public key of a PEM CSR (null when it does not parse).
inline Pkey csrKey(const std::string& csr_pem) {
  BIO* in = BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  if (req == nullptr) return nullptr;
  Pkey key(X509_REQ_get_pubkey(req));
  X509_REQ_free(req);
  return key;
}

struct Validity {
  int64_t not_before = 0;  // seconds since the epoch; 0: now - 60
  int64_t not_after = 0;   // 0: now + 3600
};

class TestCa {
 public:
  explicit TestCa(const std::string& name = "halyard test root") : key_(newKey()) {
    root_.reset(X509_new());
    X509_set_version(root_.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(root_.get()), 1);
    X509_NAME* subject = X509_get_subject_name(root_.get());
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(root_.get(), subject);
    X509_gmtime_adj(X509_getm_notBefore(root_.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(root_.get()), 86400);
    X509_set_pubkey(root_.get(), key_.get());
    addExtension(root_.get(), root_.get(), NID_basic_constraints, "critical,CA:TRUE");
    addExtension(root_.get(), root_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_sign(root_.get(), key_.get(), EVP_sha256());
  }

  std::string rootPem() const { return pemOf(root_.get()); }

  // A leaf for `key` with subjectAltNames `sans` ("URI:spiffe://...", "DNS:...", "IP:...").
  Cert issue(EVP_PKEY* key, const std::string& sans, Validity validity = {},
             const std::vector<unsigned char>& serial = {0x1F, 0x2E, 0x3D}) const {
    Cert cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER* s = X509_get_serialNumber(cert.get());
    ASN1_STRING_set(s, serial.data(), static_cast<int>(serial.size()));
    X509_set_issuer_name(cert.get(), X509_get_subject_name(root_.get()));
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                  static_cast<time_t>(validity.not_before ? validity.not_before : now - 60));
    ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                  static_cast<time_t>(validity.not_after ? validity.not_after : now + 3600));
    X509_set_pubkey(cert.get(), key);
    addExtension(root_.get(), cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    addExtension(root_.get(), cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
    if (!sans.empty()) addExtension(root_.get(), cert.get(), NID_subject_alt_name, sans.c_str());
    X509_sign(cert.get(), key_.get(), EVP_sha256());
    return cert;
  }

 private:
  static void addExtension(X509* issuer, X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  Pkey key_;
  Cert root_;
};

}  // namespace halyard::wire::testing
