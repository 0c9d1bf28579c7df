#include "wire/workload_key.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

namespace halyard::wire {

namespace {

using common::ErrorKind;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct ReqFree {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};
struct ExtsFree {
  void operator()(STACK_OF(X509_EXTENSION) * s) const {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;

// The oldest error OpenSSL queued, as text ("" when none); the queue is emptied either way, so
// the next call does not report a stale one.
std::string opensslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

std::string because(const std::string& what) {
  const std::string detail = opensslError();
  return detail.empty() ? what : what + " (" + detail + ")";
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

Bio readOnly(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM text, or null.
Cert firstCertificate(std::string_view pem) {
  Bio in = readOnly(pem);
  if (!in) return nullptr;
  return Cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
}

// How many certificates a PEM text holds, reading up to the first that does not parse; -1 when
// something after the last certificate is not one (a truncated bundle).
int countCertificates(std::string_view pem) {
  Bio in = readOnly(pem);
  if (!in) return -1;
  int n = 0;
  while (Cert c{PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr)}) ++n;
  // The end of the text reads as "no start line"; anything else is a certificate that is broken.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end =
      ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  return clean_end || last == 0 ? n : -1;
}

bool epochOf(const ASN1_TIME* time, int64_t& out) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return false;
  out = static_cast<int64_t>(::timegm(&tm));
  return true;
}

std::string serialHex(const ASN1_INTEGER* serial) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  const unsigned char* bytes = ASN1_STRING_get0_data(serial);
  const int n = ASN1_STRING_length(serial);
  for (int i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xF]);
  }
  // A zero serial has no content bytes; openssl prints it as 00. (A negative one, which RFC 5280
  // forbids, is printed without its sign: it would still be a different serial.)
  return out.empty() ? "00" : out;
}

std::string firstUri(X509* cert) {
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return "";
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                       static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return "";
}

CertificateInfo describe(X509* cert) {
  CertificateInfo info;
  info.serial_hex = serialHex(X509_get0_serialNumber(cert));
  epochOf(X509_get0_notBefore(cert), info.not_before);
  epochOf(X509_get0_notAfter(cert), info.not_after);
  info.uri_san = firstUri(cert);
  return info;
}

}  // namespace

common::Expected<CertificateInfo> describeLeaf(std::string_view chain_pem) {
  Cert leaf = firstCertificate(chain_pem);
  if (!leaf) {
    return common::fail(ErrorKind::kInvalidArgument,
                        because("the certificate chain holds no PEM certificate"));
  }
  return describe(leaf.get());
}

void WorkloadKey::Free::operator()(EVP_PKEY* key) const {
  EVP_PKEY_free(key);
}

WorkloadKey::~WorkloadKey() {
  if (!private_key_pem_.empty()) OPENSSL_cleanse(private_key_pem_.data(), private_key_pem_.size());
}

WorkloadKey& WorkloadKey::operator=(WorkloadKey&& other) noexcept {
  if (this == &other) return *this;
  if (!private_key_pem_.empty()) OPENSSL_cleanse(private_key_pem_.data(), private_key_pem_.size());
  key_ = std::move(other.key_);
  private_key_pem_ = std::move(other.private_key_pem_);
  return *this;
}

common::Expected<WorkloadKey> WorkloadKey::generate() {
  WorkloadKey key;
  key.key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key.key_) {
    return common::fail(ErrorKind::kInternal, because("cannot generate an ECDSA P-256 key"));
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PKCS8PrivateKey(out.get(), key.key_.get(), nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return common::fail(ErrorKind::kInternal, because("cannot encode the new key as PKCS#8"));
  }
  key.private_key_pem_ = bioText(out.get());
  // The memory BIO's copy of the key is wiped before it is freed; the string is the only one.
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  if (n > 0) OPENSSL_cleanse(data, static_cast<size_t>(n));
  return key;
}

common::Expected<std::string> WorkloadKey::csr(std::string_view spiffe_id) const {
  std::unique_ptr<X509_REQ, ReqFree> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key_.get()) != 1) {
    return common::fail(ErrorKind::kInternal, because("cannot build a certificate request"));
  }
  // The subject stays empty: a workload certificate names its workload in the URI SAN only, as
  // Istio's do.
  if (!spiffe_id.empty()) {
    const std::string value = "URI:" + std::string(spiffe_id);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
    if (san == nullptr) {
      return common::fail(ErrorKind::kInvalidArgument,
                          because("\"" + std::string(spiffe_id) +
                                  "\" cannot be a certificate's URI subjectAltName"));
    }
    std::unique_ptr<STACK_OF(X509_EXTENSION), ExtsFree> extensions(sk_X509_EXTENSION_new_null());
    if (!extensions || sk_X509_EXTENSION_push(extensions.get(), san) == 0) {
      X509_EXTENSION_free(san);
      return common::fail(ErrorKind::kInternal, because("cannot build a certificate request"));
    }
    if (X509_REQ_add_extensions(req.get(), extensions.get()) != 1) {
      return common::fail(ErrorKind::kInternal, because("cannot build a certificate request"));
    }
  }
  if (X509_REQ_sign(req.get(), key_.get(), EVP_sha256()) <= 0) {
    return common::fail(ErrorKind::kInternal, because("cannot sign the certificate request"));
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) {
    return common::fail(ErrorKind::kInternal, because("cannot encode the certificate request"));
  }
  return bioText(out.get());
}

common::Expected<translate::WorkloadIdentity> WorkloadKey::identityFor(
    std::string_view chain_pem, std::string_view roots_pem) const {
  Cert leaf = firstCertificate(chain_pem);
  if (!leaf) {
    return common::fail(ErrorKind::kInvalidArgument,
                        because("the issued certificate chain holds no PEM certificate"));
  }
  if (countCertificates(chain_pem) < 0) {
    return common::fail(ErrorKind::kInvalidArgument,
                        "the issued certificate chain has a certificate that does not parse");
  }
  const int roots = countCertificates(roots_pem);
  if (roots <= 0) {
    return common::fail(ErrorKind::kInvalidArgument,
                        roots == 0 ? "the issued root certificates hold no PEM certificate"
                                   : "the issued root certificates have one that does not parse");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), key_.get()) != 1) {
    ERR_clear_error();
    return common::fail(ErrorKind::kInvalidArgument,
                        "the issued certificate is for another key than the one this proxy "
                        "requested it for");
  }
  CertificateInfo info = describe(leaf.get());
  if (info.uri_san.empty()) {
    return common::fail(ErrorKind::kInvalidArgument,
                        "the issued certificate has no URI subjectAltName (SPIFFE ID), expected "
                        "spiffe://<trust domain>/ns/<namespace>/sa/<service account>");
  }
  translate::WorkloadIdentity identity;
  identity.spiffe_id = std::move(info.uri_san);
  identity.certificate_chain_pem = std::string(chain_pem);
  identity.private_key_pem = private_key_pem_;
  identity.root_certificates_pem = std::string(roots_pem);
  identity.serial_hex = std::move(info.serial_hex);
  identity.not_before = info.not_before;
  identity.not_after = info.not_after;
  return identity;
}

}  // namespace halyard::wire
