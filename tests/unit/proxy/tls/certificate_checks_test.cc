#include "proxy/tls/certificate_checks.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace halyard::proxy::tls {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Cert = std::unique_ptr<X509, X509Free>;

// A self-signed P-256 certificate with subject CN `cn` and, when not empty, the SAN extension
// `san` in openssl's config syntax ("DNS:a.test,URI:spiffe://...").
Cert makeCert(const std::string& cn, const std::string& san) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  if (!san.empty()) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert.get(), key, EVP_sha256());
  EVP_PKEY_free(key);
  return cert;
}

CertificateChecks sans(std::vector<std::string> names) {
  CertificateChecks checks;
  checks.subject_alt_names = std::move(names);
  return checks;
}

TEST(CertificateChecks, DnsSanMatches) {
  Cert cert = makeCert("client", "DNS:alice.clients.test,DNS:other.test");
  EXPECT_EQ(checkCertificate(cert.get(), sans({"alice.clients.test"})), "");
  EXPECT_EQ(checkCertificate(cert.get(), sans({"nope.test", "other.test"})), "");
  EXPECT_NE(checkCertificate(cert.get(), sans({"bob.clients.test"})), "");
}

TEST(CertificateChecks, SubjectCommonNameIsNotASubjectAltName) {
  // OpenSSL's host check falls back to the CN when there is no DNS SAN; Envoy's SAN match
  // (and so Istio's subjectAltNames) never does.
  Cert no_san = makeCert("alice.clients.test", "");
  EXPECT_NE(checkCertificate(no_san.get(), sans({"alice.clients.test"})), "");
  Cert uri_only = makeCert("alice.clients.test", "URI:spiffe://cluster.local/ns/a/sa/b");
  EXPECT_NE(checkCertificate(uri_only.get(), sans({"alice.clients.test"})), "");
  EXPECT_EQ(checkCertificate(uri_only.get(), sans({"spiffe://cluster.local/ns/a/sa/b"})), "");
}

TEST(CertificateChecks, IpSanMatches) {
  Cert cert = makeCert("10.0.0.1", "IP:10.0.0.2");
  EXPECT_EQ(checkCertificate(cert.get(), sans({"10.0.0.2"})), "");
  EXPECT_NE(checkCertificate(cert.get(), sans({"10.0.0.1"})), "");
}

}  // namespace
}  // namespace halyard::proxy::tls
