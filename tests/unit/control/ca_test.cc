// The CA: a self-signed root made once and reused; an operator's plug-in CA (made here with
// OpenSSL) used as it is, its leaves chaining to the operator's root; partial, mismatched or
// broken plug-in sets refused by file name; CSRs whose names are ignored, whose keys and
// signatures are checked; lifetimes capped at the CA's own.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "ca_test_util.h"
#include "control/ca/certificate_authority.h"
#include "control_test_util.h"

namespace halyard::control::ca {
namespace {

using testing::ecKey;
using testing::makeCaCert;
using testing::makeCsr;
using testing::rsaKey;
using testing::TempDir;
using testing::verifyChain;
using namespace std::chrono_literals;

constexpr const char* kSpiffeId = "spiffe://cluster.local/ns/shop/sa/web";

mode_t modeOf(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

X509Ptr leafOf(const IssuedCertificate& issued) {
  auto certs = parseCertificates(issued.chain_pem);
  return certs.empty() ? nullptr : std::move(certs.front());
}

std::vector<std::string> sans(X509* cert, int* critical = nullptr) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, critical, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    int type = 0;
    auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(n, &type));
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
    if (type == GEN_URI) out.push_back("URI:" + text);
    if (type == GEN_DNS) out.push_back("DNS:" + text);
    if (type == GEN_IPADD) out.push_back("IP:" + std::to_string(text.size()) + "bytes");
  }
  GENERAL_NAMES_free(names);
  return out;
}

// An operator's CA: root -> intermediate (ca-cert), in Istio's plug-in file layout.
struct PluginCa {
  PkeyPtr root_key = ecKey("P-384");
  X509Ptr root = makeCaCert(root_key.get(), "Example Root", nullptr, root_key.get());
  PkeyPtr ca_key = rsaKey(2048);
  X509Ptr ca = makeCaCert(ca_key.get(), "Example Mesh Intermediate", root.get(), root_key.get());

  void write(const TempDir& dir) const {
    dir.write("ca-cert.pem", toPem(ca.get()));
    dir.write("ca-key.pem", toPem(ca_key.get()));
    dir.write("root-cert.pem", toPem(root.get()));
    dir.write("cert-chain.pem", toPem(ca.get()) + toPem(root.get()));
  }
};

TEST(CertificateAuthorityTest, CreatesASelfSignedRootOnceAndReusesIt) {
  TempDir tmp;
  const std::string dir = tmp.file("nested/ca");
  auto ca = CertificateAuthority::open(dir);
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_TRUE((*ca)->selfSigned());
  EXPECT_EQ(modeOf(dir), 0700u);
  EXPECT_EQ(modeOf(dir + "/ca-key.pem"), 0600u);
  for (const char* f : {"ca-cert.pem", "root-cert.pem", "cert-chain.pem"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  }
  auto roots = parseCertificates((*ca)->rootCertificatesPem());
  ASSERT_EQ(roots.size(), 1u);
  X509* root = roots[0].get();
  EXPECT_EQ(X509_self_signed(root, 1), 1);
  EXPECT_TRUE(X509_get_extension_flags(root) & EXFLAG_CA);
  EXPECT_TRUE(X509_get_key_usage(root) & KU_KEY_CERT_SIGN);
  char subject[128];
  X509_NAME_oneline(X509_get_subject_name(root), subject, sizeof subject);
  EXPECT_STREQ(subject, "/O=cluster.local");
  const int64_t years = (epochSeconds(X509_get0_notAfter(root)) - time(nullptr)) / (365 * 86400);
  EXPECT_GE(years, 9);

  // A second start finds the files and keeps the same root.
  auto again = CertificateAuthority::open(dir);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ((*again)->rootCertificatesPem(), (*ca)->rootCertificatesPem());
  EXPECT_TRUE((*again)->selfSigned());
}

TEST(CertificateAuthorityTest, SignsOnlyTheProvenIdentityWhateverTheCsrAsksFor) {
  TempDir dir;
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_TRUE(ca);
  const std::string csr =
      makeCsr("admin", "URI:spiffe://evil/ns/kube-system/sa/admin,DNS:evil.example.com");
  const int64_t now = time(nullptr);
  auto issued = (*ca)->signCsr(csr, kSpiffeId, 3600s);
  ASSERT_TRUE(issued) << issued.error().message;
  auto certs = parseCertificates(issued->chain_pem);
  ASSERT_EQ(certs.size(), 1u);  // the self-signed root is never in the chain
  X509* leaf = certs[0].get();

  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf)), 0);
  int critical = 0;
  EXPECT_EQ(sans(leaf, &critical), std::vector<std::string>{std::string("URI:") + kSpiffeId});
  EXPECT_EQ(critical, 1);
  const uint32_t flags = X509_get_extension_flags(leaf);
  EXPECT_FALSE(flags & EXFLAG_CA);
  EXPECT_TRUE(flags & EXFLAG_BCONS);
  EXPECT_EQ(X509_get_key_usage(leaf), uint32_t{KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT});
  EXPECT_EQ(X509_get_extended_key_usage(leaf), uint32_t{XKU_SSL_SERVER | XKU_SSL_CLIENT});
  EXPECT_NE(X509_get0_subject_key_id(leaf), nullptr);
  EXPECT_NE(X509_get0_authority_key_id(leaf), nullptr);
  for (int nid : {NID_basic_constraints, NID_key_usage}) {
    const int at = X509_get_ext_by_NID(leaf, nid, -1);
    ASSERT_GE(at, 0);
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(leaf, at)), 1) << OBJ_nid2sn(nid);
  }

  // Serial: positive, 128 bits, printed as openssl does.
  EXPECT_EQ(issued->serial_hex.size(), 32u);
  EXPECT_EQ(issued->serial_hex, serialHex(leaf));
  EXPECT_EQ(issued->serial_hex.find_first_not_of("0123456789ABCDEF"), std::string::npos);
  // A minute back for clock skew; the lifetime from now.
  EXPECT_NEAR(issued->not_before, now - 60, 2);
  EXPECT_NEAR(issued->not_after, now + 3600, 2);
  EXPECT_EQ(epochSeconds(X509_get0_notAfter(leaf)), issued->not_after);
  EXPECT_EQ(verifyChain(issued->chain_pem, (*ca)->rootCertificatesPem()), "");

  // Each certificate has its own serial.
  auto second = (*ca)->signCsr(csr, kSpiffeId, 3600s);
  ASSERT_TRUE(second);
  EXPECT_NE(second->serial_hex, issued->serial_hex);
}

TEST(CertificateAuthorityTest, ChecksTheCsrKeyAndSignature) {
  TempDir dir;
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_TRUE(ca);
  auto sign = [&](const std::string& csr) { return (*ca)->signCsr(csr, kSpiffeId, 3600s); };

  auto garbage = sign("not a csr");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().message,
            "the CSR is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");

  PkeyPtr key = ecKey(), other = ecKey();
  auto forged = sign(makeCsr(key.get(), "", "", other.get()));
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error().message,
            "the CSR's signature does not verify: it was not signed by the key it carries");

  PkeyPtr small = rsaKey(1024);
  auto weak = sign(makeCsr(small.get()));
  ASSERT_FALSE(weak);
  EXPECT_EQ(weak.error().message,
            "the CSR's key is RSA 1024-bit: expected ECDSA P-256 or P-384, or RSA of 2048 bits or "
            "more");
  PkeyPtr p521 = ecKey("P-521");
  auto curve = sign(makeCsr(p521.get()));
  ASSERT_FALSE(curve);
  EXPECT_NE(curve.error().message.find("ECDSA secp521r1"), std::string::npos)
      << curve.error().message;

  PkeyPtr p384 = ecKey("P-384"), rsa = rsaKey(2048);
  EXPECT_TRUE(sign(makeCsr(p384.get())));
  EXPECT_TRUE(sign(makeCsr(rsa.get())));
}

TEST(CertificateAuthorityTest, UsesAPluginCaAndItsLeavesChainToTheOperatorsRoot) {
  TempDir dir;
  PluginCa plugin;
  plugin.write(dir);
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_FALSE((*ca)->selfSigned());
  EXPECT_EQ((*ca)->rootCertificatesPem(), toPem(plugin.root.get()));
  auto issued = (*ca)->signCsr(makeCsr(), kSpiffeId, 3600s);
  ASSERT_TRUE(issued) << issued.error().message;
  auto chain = parseCertificates(issued->chain_pem);
  ASSERT_EQ(chain.size(), 2u);  // the leaf and the intermediate, not the operator's root
  EXPECT_EQ(X509_cmp(chain[1].get(), plugin.ca.get()), 0);
  EXPECT_EQ(X509_check_issued(plugin.ca.get(), chain[0].get()), X509_V_OK);
  EXPECT_EQ(verifyChain(issued->chain_pem, toPem(plugin.root.get())), "");
  // Nothing was rewritten: the operator's files stay theirs.
  std::ifstream in(dir.file("cert-chain.pem"));
  std::string chain_file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(chain_file, toPem(plugin.ca.get()) + toPem(plugin.root.get()));
}

TEST(CertificateAuthorityTest, ChainsCarryEveryIntermediateUpToTheRoot) {
  TempDir dir;
  PkeyPtr root_key = ecKey(), mid_key = ecKey(), ca_key = ecKey();
  X509Ptr root = makeCaCert(root_key.get(), "Root", nullptr, root_key.get());
  X509Ptr mid = makeCaCert(mid_key.get(), "Regional", root.get(), root_key.get());
  X509Ptr ca_cert = makeCaCert(ca_key.get(), "Cluster", mid.get(), mid_key.get());
  dir.write("ca-cert.pem", toPem(ca_cert.get()));
  dir.write("ca-key.pem", toPem(ca_key.get()));
  dir.write("root-cert.pem", toPem(root.get()));
  dir.write("cert-chain.pem", toPem(ca_cert.get()) + toPem(mid.get()) + toPem(root.get()));
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_TRUE(ca) << ca.error().message;
  auto issued = (*ca)->signCsr(makeCsr(), kSpiffeId, 3600s);
  ASSERT_TRUE(issued);
  auto chain = parseCertificates(issued->chain_pem);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(X509_cmp(chain[1].get(), ca_cert.get()), 0);
  EXPECT_EQ(X509_cmp(chain[2].get(), mid.get()), 0);
  EXPECT_EQ(verifyChain(issued->chain_pem, toPem(root.get())), "");
}

TEST(CertificateAuthorityTest, RefusesAPartialPluginSetNamingWhatIsMissing) {
  TempDir dir;
  PluginCa plugin;
  dir.write("ca-cert.pem", toPem(plugin.ca.get()));
  dir.write("ca-key.pem", toPem(plugin.ca_key.get()));
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_FALSE(ca);
  const std::string& m = ca.error().message;
  EXPECT_NE(m.find("has ca-cert.pem and ca-key.pem but not root-cert.pem and cert-chain.pem"),
            std::string::npos)
      << m;
  EXPECT_FALSE(std::filesystem::exists(dir.file("root-cert.pem")));  // nothing made up
}

TEST(CertificateAuthorityTest, RefusesPluginFilesThatDoNotFit) {
  PluginCa plugin;
  {
    TempDir dir;  // a key that is not ca-cert's
    plugin.write(dir);
    PkeyPtr other = rsaKey(2048);
    dir.write("ca-key.pem", toPem(other.get()));
    auto ca = CertificateAuthority::open(dir.path());
    ASSERT_FALSE(ca);
    EXPECT_EQ(ca.error().message,
              dir.file("ca-key.pem") + " is not the private key of " + dir.file("ca-cert.pem"));
  }
  {
    TempDir dir;  // ca-cert is an end-entity certificate
    PkeyPtr key = ecKey();
    X509Ptr leaf =
        makeCaCert(key.get(), "Not a CA", plugin.root.get(), plugin.root_key.get(), false);
    plugin.write(dir);
    dir.write("ca-cert.pem", toPem(leaf.get()));
    dir.write("ca-key.pem", toPem(key.get()));
    auto ca = CertificateAuthority::open(dir.path());
    ASSERT_FALSE(ca);
    EXPECT_NE(ca.error().message.find("ca-cert.pem is not a CA certificate"), std::string::npos)
        << ca.error().message;
  }
  {
    TempDir dir;  // root-cert.pem is somebody else's root
    plugin.write(dir);
    PkeyPtr other_key = ecKey();
    X509Ptr other = makeCaCert(other_key.get(), "Other Root", nullptr, other_key.get());
    dir.write("root-cert.pem", toPem(other.get()));
    auto ca = CertificateAuthority::open(dir.path());
    ASSERT_FALSE(ca);
    EXPECT_NE(ca.error().message.find("ca-cert.pem does not chain to " + dir.file("root-cert.pem") +
                                      " through " + dir.file("cert-chain.pem")),
              std::string::npos)
        << ca.error().message;
  }
  {
    TempDir dir;  // not PEM at all
    plugin.write(dir);
    dir.write("ca-cert.pem", "garbage");
    auto ca = CertificateAuthority::open(dir.path());
    ASSERT_FALSE(ca);
    EXPECT_EQ(ca.error().message, dir.file("ca-cert.pem") + " holds no PEM certificate");
  }
}

TEST(CertificateAuthorityTest, LeavesEndWhenTheCaDoes) {
  TempDir dir;
  PkeyPtr root_key = ecKey(), ca_key = ecKey();
  X509Ptr root = makeCaCert(root_key.get(), "Root", nullptr, root_key.get());
  X509Ptr ca_cert = makeCaCert(ca_key.get(), "Short-lived", root.get(), root_key.get(), true, 1);
  dir.write("ca-cert.pem", toPem(ca_cert.get()));
  dir.write("ca-key.pem", toPem(ca_key.get()));
  dir.write("root-cert.pem", toPem(root.get()));
  dir.write("cert-chain.pem", "");  // an empty chain: ca-cert is signed by the root itself
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_TRUE(ca) << ca.error().message;
  auto issued = (*ca)->signCsr(makeCsr(), kSpiffeId, std::chrono::hours(24 * 10));
  ASSERT_TRUE(issued);
  EXPECT_EQ(issued->not_after, epochSeconds(X509_get0_notAfter(ca_cert.get())));
  EXPECT_EQ(verifyChain(issued->chain_pem, toPem(root.get())), "");
}

TEST(CertificateAuthorityTest, IssuesTheControlPlanesServingCertificate) {
  TempDir dir;
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_TRUE(ca);
  ServingNames names;
  names.dns = {"istiod.istio-system.svc", "localhost"};
  names.ips = {"127.0.0.1"};
  names.uris = {"spiffe://cluster.local/ns/istio-system/sa/istiod"};
  auto serving = (*ca)->issueServing(names, 7200s);
  ASSERT_TRUE(serving) << serving.error().message;
  X509Ptr leaf = leafOf(serving->certificate);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(sans(leaf.get()),
            (std::vector<std::string>{"DNS:istiod.istio-system.svc", "DNS:localhost", "IP:4bytes",
                                      "URI:spiffe://cluster.local/ns/istio-system/sa/istiod"}));
  EXPECT_EQ(X509_check_host(leaf.get(), "istiod.istio-system.svc", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  BioPtr bio(BIO_new_mem_buf(serving->private_key_pem.data(),
                             static_cast<int>(serving->private_key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_EQ(verifyChain(serving->certificate.chain_pem, (*ca)->rootCertificatesPem()), "");
}

TEST(CertificateAuthorityTest, DescribesCertificates) {
  TempDir dir;
  auto ca = CertificateAuthority::open(dir.path());
  ASSERT_TRUE(ca);
  auto issued = (*ca)->signCsr(makeCsr(), kSpiffeId, 3600s);
  ASSERT_TRUE(issued);
  auto facts = describeCertificate(issued->chain_pem);
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->serial_hex, issued->serial_hex);
  EXPECT_EQ(facts->not_before, issued->not_before);
  EXPECT_EQ(facts->not_after, issued->not_after);
  EXPECT_EQ(facts->uri_sans, std::vector<std::string>{kSpiffeId});
  EXPECT_FALSE(describeCertificate("nothing"));
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace halyard::control::ca
