// The proxy's workload key: the CSR is what OpenSSL accepts as signed by that key, the private key
// is PKCS#8 for the same key, and an issued chain is described as `openssl x509` would and
// refused when it is for another key or unusable.
#include "wire/workload_key.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "test_ca.h"

namespace halyard::wire {
namespace {

using testing::Cert;
using testing::newKey;
using testing::pemOf;
using testing::TestCa;

constexpr const char* kSpiffe = "spiffe://cluster.local/ns/shop/sa/web";

struct ReqFree {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};

std::unique_ptr<X509_REQ, ReqFree> parseCsr(const std::string& pem) {
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::unique_ptr<X509_REQ, ReqFree> req(PEM_read_bio_X509_REQ(in, nullptr, nullptr, nullptr));
  BIO_free(in);
  return req;
}

// What `openssl x509 -serial` prints after "serial=".
std::string opensslSerial(X509* cert) {
  BIO* out = BIO_new(BIO_s_mem());
  i2a_ASN1_INTEGER(out, X509_get0_serialNumber(cert));
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string text(data, static_cast<size_t>(n));
  BIO_free(out);
  return text;
}

WorkloadKey generated() {
  auto key = WorkloadKey::generate();
  EXPECT_TRUE(key.ok());
  return std::move(*key);
}

TEST(WorkloadKeyTest, TheCsrIsSignedWithTheKeyAndAsksForTheSpiffeId) {
  WorkloadKey key = generated();
  auto csr = key.csr(kSpiffe);
  ASSERT_TRUE(csr.ok()) << csr.error().message;
  EXPECT_TRUE(csr->starts_with("-----BEGIN CERTIFICATE REQUEST-----")) << *csr;
  auto req = parseCsr(*csr);
  ASSERT_TRUE(req);
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(req.get());
  ASSERT_NE(public_key, nullptr);
  EXPECT_EQ(X509_REQ_verify(req.get(), public_key), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(public_key), EVP_PKEY_EC);
  char group[64] = {};
  size_t group_len = 0;
  EVP_PKEY_get_group_name(public_key, group, sizeof(group), &group_len);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_REQ_get_signature_nid(req.get()), NID_ecdsa_with_SHA256);

  STACK_OF(X509_EXTENSION)* extensions = X509_REQ_get_extensions(req.get());
  ASSERT_NE(extensions, nullptr);
  auto* names = static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(extensions, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 1);
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, 0);
  ASSERT_EQ(name->type, GEN_URI);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(
                ASN1_STRING_get0_data(name->d.uniformResourceIdentifier))),
            kSpiffe);
  GENERAL_NAMES_free(names);
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
}

TEST(WorkloadKeyTest, ACsrWithoutANameHasNoExtensions) {
  WorkloadKey key = generated();
  auto csr = key.csr();
  ASSERT_TRUE(csr.ok());
  auto req = parseCsr(*csr);
  ASSERT_TRUE(req);
  EXPECT_EQ(X509_REQ_verify(req.get(), X509_REQ_get0_pubkey(req.get())), 1);
  STACK_OF(X509_EXTENSION)* extensions = X509_REQ_get_extensions(req.get());
  EXPECT_EQ(extensions == nullptr ? 0 : sk_X509_EXTENSION_num(extensions), 0);
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
}

TEST(WorkloadKeyTest, ThePrivateKeyIsPkcs8ForTheCsrsKey) {
  WorkloadKey key = generated();
  const std::string& pem = key.privateKeyPem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN PRIVATE KEY-----")) << pem;
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  testing::Pkey loaded(PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr));
  BIO_free(in);
  ASSERT_TRUE(loaded);
  auto req = parseCsr(*key.csr());
  ASSERT_TRUE(req);
  EXPECT_EQ(EVP_PKEY_eq(loaded.get(), X509_REQ_get0_pubkey(req.get())), 1);
  // Each key is new.
  EXPECT_NE(generated().privateKeyPem(), pem);
}

TEST(WorkloadKeyTest, AChainIssuedForTheKeyBecomesTheIdentity) {
  WorkloadKey key = generated();
  auto csr_key = testing::csrKey(*key.csr());
  ASSERT_TRUE(csr_key);
  TestCa ca;
  const Cert leaf = ca.issue(csr_key.get(), std::string("URI:") + kSpiffe,
                             {1'700'000'000, 1'700'086'400}, {0x8A, 0x00, 0x01});
  const std::string chain = pemOf(leaf.get());
  auto identity = key.identityFor(chain, ca.rootPem());
  ASSERT_TRUE(identity.ok()) << identity.error().message;
  EXPECT_EQ(identity->spiffe_id, kSpiffe);
  EXPECT_EQ(identity->serial_hex, opensslSerial(leaf.get()));
  EXPECT_EQ(identity->serial_hex, "8A0001");
  EXPECT_EQ(identity->not_before, 1'700'000'000);
  EXPECT_EQ(identity->not_after, 1'700'086'400);
  EXPECT_EQ(identity->certificate_chain_pem, chain);
  EXPECT_EQ(identity->root_certificates_pem, ca.rootPem());
  EXPECT_EQ(identity->private_key_pem, key.privateKeyPem());

  auto info = describeLeaf(chain + ca.rootPem());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->serial_hex, "8A0001");
  EXPECT_EQ(info->uri_san, kSpiffe);
}

TEST(WorkloadKeyTest, SerialsArePrintedAsOpensslPrintsThem) {
  WorkloadKey key = generated();
  auto csr_key = testing::csrKey(*key.csr());
  TestCa ca;
  for (const std::vector<unsigned char>& serial :
       {std::vector<unsigned char>{0x01}, std::vector<unsigned char>{0x0F, 0xFF},
        std::vector<unsigned char>{0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2A}}) {
    const Cert leaf = ca.issue(csr_key.get(), std::string("URI:") + kSpiffe, {}, serial);
    auto identity = key.identityFor(pemOf(leaf.get()), ca.rootPem());
    ASSERT_TRUE(identity.ok()) << identity.error().message;
    EXPECT_EQ(identity->serial_hex, opensslSerial(leaf.get()));
  }
}

TEST(WorkloadKeyTest, AChainForAnotherKeyIsRefused) {
  WorkloadKey key = generated();
  TestCa ca;
  auto other = newKey();
  const Cert leaf = ca.issue(other.get(), std::string("URI:") + kSpiffe);
  auto identity = key.identityFor(pemOf(leaf.get()), ca.rootPem());
  ASSERT_FALSE(identity.ok());
  EXPECT_NE(identity.error().message.find("another key"), std::string::npos)
      << identity.error().message;
}

TEST(WorkloadKeyTest, UnusableChainsAndRootsAreRefused) {
  WorkloadKey key = generated();
  auto csr_key = testing::csrKey(*key.csr());
  TestCa ca;
  const std::string good = pemOf(ca.issue(csr_key.get(), std::string("URI:") + kSpiffe).get());
  const std::string no_uri = pemOf(ca.issue(csr_key.get(), "DNS:web.shop.svc").get());

  auto refused = [&](const std::string& chain, const std::string& roots) {
    auto identity = key.identityFor(chain, roots);
    return identity.ok() ? std::string() : identity.error().message;
  };
  EXPECT_NE(refused("not a certificate", ca.rootPem()).find("no PEM certificate"),
            std::string::npos);
  EXPECT_NE(refused(good, "").find("root certificates hold no PEM certificate"), std::string::npos);
  EXPECT_NE(refused(no_uri, ca.rootPem()).find("no URI subjectAltName"), std::string::npos);
  // A chain whose second certificate is cut short.
  const std::string root = ca.rootPem();
  const std::string truncated =
      good + root.substr(0, root.size() / 2) + "\n-----END CERTIFICATE-----\n";
  EXPECT_NE(refused(truncated, root).find("does not parse"), std::string::npos);
  EXPECT_EQ(refused(good, root), "");
}

TEST(WorkloadKeyTest, DescribeLeafRefusesTextWithoutACertificate) {
  EXPECT_FALSE(describeLeaf("").ok());
  EXPECT_FALSE(describeLeaf("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
}

}  // namespace
}  // namespace halyard::wire
