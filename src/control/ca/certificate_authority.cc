#include "control/ca/certificate_authority.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <tuple>

#include "common/log.h"

namespace halyard::control::ca {

namespace {

namespace fs = std::filesystem;

// Workload certificates start a minute back: a peer whose clock is a little behind ours still
// accepts a certificate issued this second.
constexpr int64_t kClockSkewSeconds = 60;
constexpr int64_t kRootLifetimeSeconds = int64_t{10} * 365 * 24 * 3600;

common::Unexpected<common::Error> invalid(std::string message) {
  return common::fail(common::ErrorKind::kInvalidArgument, std::move(message));
}

common::Unexpected<common::Error> internal(const std::string& what) {
  const std::string why = openSslError();
  return common::fail(common::ErrorKind::kInternal,
                      "cannot " + what + (why.empty() ? "" : ": " + why));
}

// Creates the missing components of `dir` with mode 0700: the directory holds the CA's key.
common::Expected<void> makeDirectory(const std::string& dir) {
  fs::path path;
  for (const auto& part : fs::path(dir)) {
    path /= part;
    if (part.empty() || part == "/") continue;
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return common::fail(common::ErrorKind::kIo, "cannot create the CA directory " +
                                                      path.string() + ": " + std::strerror(errno));
    }
  }
  if (!fs::is_directory(dir)) {
    return common::fail(common::ErrorKind::kIo, "the CA directory " + dir + " is not a directory");
  }
  return common::Ok{};
}

// Holds an exclusive lock on the directory while the CA is opened, so two control planes started
// together on an empty directory do not both create a root.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir)
      : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY)) {
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~DirectoryLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_;
};

bool setRandomSerial(X509* cert) {
  // 128 random bits with the top bit clear: positive, and 16 bytes, so openssl prints it as the
  // same 32 hex digits serialHex() does.
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;
  if (bytes[0] == 0) bytes[0] = 0x01;
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  if (!bn) return false;
  const bool ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  return ok;
}

bool addExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool addName(GENERAL_NAMES* names, int type, const std::string& value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (!name) return false;
  if (type == GEN_IPADD) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(value.c_str());
    if (!ip) {
      GENERAL_NAME_free(name);
      return false;
    }
    GENERAL_NAME_set0_value(name, GEN_IPADD, ip);
  } else {
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (!text || ASN1_STRING_set(text, value.data(), static_cast<int>(value.size())) != 1) {
      ASN1_IA5STRING_free(text);
      GENERAL_NAME_free(name);
      return false;
    }
    GENERAL_NAME_set0_value(name, type, text);
  }
  sk_GENERAL_NAME_push(names, name);
  return true;
}

// The digest to sign with: none for EdDSA keys (the algorithm has its own), SHA-384 for P-384 and
// larger curves, SHA-256 otherwise.
const EVP_MD* digestFor(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) return nullptr;
  if (id == EVP_PKEY_EC && EVP_PKEY_get_bits(key) >= 384) return EVP_sha384();
  return EVP_sha256();
}

// "ECDSA P-384", "RSA 1024-bit", "ED25519": how errors name a key.
std::string describeKey(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_EC) {
    char group[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) {
      return "ECDSA " + std::string(group, len);
    }
    return "ECDSA";
  }
  if (id == EVP_PKEY_RSA) return "RSA " + std::to_string(EVP_PKEY_get_bits(key)) + "-bit";
  const char* name = EVP_PKEY_get0_type_name(key);
  return name ? name : "an unknown kind of key";
}

bool acceptableCsrKey(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) return EVP_PKEY_get_bits(key) >= 2048;
  if (id != EVP_PKEY_EC) return false;
  char group[80] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) return false;
  const std::string name(group, len);
  return name == "prime256v1" || name == "P-256" || name == "secp384r1" || name == "P-384";
}

// A self-signed root: O=<organization>, CA:TRUE, keyCertSign, ten years.
common::Expected<std::pair<X509Ptr, PkeyPtr>> makeRoot(const std::string& organization) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return internal("generate the root's ECDSA P-256 key");
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 || !setRandomSerial(cert.get()))
    return internal("make the root certificate");
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(organization.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return internal("name the root certificate O=" + organization);
  }
  const int64_t now = time(nullptr);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(now - kClockSkewSeconds));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(now + kRootLifetimeSeconds));
  X509_set_pubkey(cert.get(), key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (!addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
      !addExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !addExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash")) {
    return internal("add the root certificate's extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return internal("sign the root");
  return std::make_pair(std::move(cert), std::move(key));
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return out;
}

}  // namespace

common::Expected<CertificateFacts> describeCertificate(const std::string& pem) {
  auto certs = parseCertificates(pem);
  if (certs.empty()) return invalid("no PEM certificate found");
  X509* cert = certs.front().get();
  CertificateFacts facts;
  facts.serial_hex = serialHex(cert);
  facts.not_before = epochSeconds(X509_get0_notBefore(cert));
  facts.not_after = epochSeconds(X509_get0_notAfter(cert));
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
    facts.uri_sans.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                                static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return facts;
}

common::Expected<std::unique_ptr<CertificateAuthority>> CertificateAuthority::open(
    const std::string& dir, const std::string& organization) {
  if (dir.empty()) return invalid("the CA directory is empty: pass --ca-dir DIR");
  if (auto made = makeDirectory(dir); !made) return common::unexpected(made.error());
  DirectoryLock lock(dir);

  std::vector<std::string> present, missing;
  for (const char* name : {kCaCert, kCaKey, kRootCert, kCertChain}) {
    (fs::exists(fs::path(dir) / name) ? present : missing).push_back(name);
  }
  if (!present.empty() && !missing.empty()) {
    return invalid("the CA directory " + dir + " has " + joinNames(present) + " but not " +
                   joinNames(missing) +
                   ": a plug-in CA needs all four of ca-cert.pem, "
                   "ca-key.pem, root-cert.pem and cert-chain.pem (or none of them, for a "
                   "self-signed root made there)");
  }
  const bool create = present.empty();
  if (create) {
    auto root = makeRoot(organization);
    if (!root) return common::unexpected(root.error());
    const std::string cert_pem = toPem(root->first.get());
    const std::string key_pem = toPem(root->second.get());
    if (cert_pem.empty() || key_pem.empty()) return internal("encode the root as PEM");
    // The key first: a crash halfway leaves a partial set, which the next start refuses by name.
    for (auto [name, content, mode] :
         {std::tuple{kCaKey, &key_pem, mode_t{0600}}, std::tuple{kCaCert, &cert_pem, mode_t{0644}},
          std::tuple{kCertChain, &cert_pem, mode_t{0644}},
          std::tuple{kRootCert, &cert_pem, mode_t{0644}}}) {
      auto written = writeFileAtomically((fs::path(dir) / name).string(), *content, mode);
      if (!written) return common::unexpected(written.error());
    }
  }
  std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
  ca->dir_ = dir;
  if (auto loaded = ca->load(create); !loaded) return common::unexpected(loaded.error());
  return ca;
}

common::Expected<void> CertificateAuthority::load(bool created) {
  auto path = [this](const char* name) { return (fs::path(dir_) / name).string(); };
  auto cert_text = readFile(path(kCaCert));
  auto key_text = readFile(path(kCaKey));
  auto root_text = readFile(path(kRootCert));
  auto chain_text = readFile(path(kCertChain));
  for (auto* r : {&cert_text, &key_text, &root_text, &chain_text}) {
    if (!*r) return common::unexpected(r->error());
  }

  auto certs = parseCertificates(*cert_text);
  if (certs.empty()) return invalid(path(kCaCert) + " holds no PEM certificate");
  ca_cert_ = std::move(certs.front());
  {
    BioPtr bio(BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
    ca_key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!ca_key_) {
    openSslError();
    return invalid(path(kCaKey) + " holds no PEM private key (or it is encrypted)");
  }
  if (X509_check_private_key(ca_cert_.get(), ca_key_.get()) != 1) {
    openSslError();
    return invalid(path(kCaKey) + " is not the private key of " + path(kCaCert));
  }
  const uint32_t flags = X509_get_extension_flags(ca_cert_.get());
  const bool can_sign =
      !(flags & EXFLAG_KUSAGE) || (X509_get_key_usage(ca_cert_.get()) & KU_KEY_CERT_SIGN);
  if (!(flags & EXFLAG_CA) || !can_sign) {
    return invalid(path(kCaCert) +
                   " is not a CA certificate: it needs basicConstraints CA:TRUE and, when it has "
                   "a keyUsage, keyCertSign");
  }
  const int64_t now = time(nullptr);
  not_after_ = epochSeconds(X509_get0_notAfter(ca_cert_.get()));
  if (not_after_ <= now) {
    return invalid(path(kCaCert) + " expired at " + rfc3339(not_after_) +
                   ": it cannot issue certificates");
  }

  std::vector<X509Ptr> roots = parseCertificates(*root_text);
  if (roots.empty()) return invalid(path(kRootCert) + " holds no PEM certificate");
  std::vector<X509Ptr> chain = parseCertificates(*chain_text);

  // ca-cert must chain to a root of root-cert.pem through the certificates of cert-chain.pem.
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  for (const auto& r : roots) X509_STORE_add_cert(store, r.get());
  for (const auto& c : chain) sk_X509_push(untrusted, c.get());
  std::string verify_error;
  std::vector<X509Ptr> verified;
  if (!store || !untrusted || !ctx ||
      X509_STORE_CTX_init(ctx, store, ca_cert_.get(), untrusted) != 1) {
    verify_error = "cannot set up the verification: " + openSslError();
  } else if (X509_verify_cert(ctx) != 1) {
    verify_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  } else {
    STACK_OF(X509)* built = X509_STORE_CTX_get1_chain(ctx);
    for (int i = 1; i < sk_X509_num(built); ++i) {
      X509* c = sk_X509_value(built, i);
      X509_up_ref(c);
      verified.emplace_back(c);
    }
    sk_X509_pop_free(built, X509_free);
  }
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);  // the certificates stay owned by `chain`
  X509_STORE_free(store);
  openSslError();
  if (!verify_error.empty()) {
    return invalid(path(kCaCert) + " does not chain to " + path(kRootCert) + " through " +
                   path(kCertChain) + ": " + verify_error);
  }

  // Issued chains carry ca-cert and the intermediates above it, never a self-signed root: peers
  // have the roots already.
  self_signed_ = X509_self_signed(ca_cert_.get(), 0) == 1;
  if (!self_signed_) chain_tail_pem_ = toPem(ca_cert_.get());
  for (const auto& c : verified) {
    if (X509_self_signed(c.get(), 0) == 1) continue;
    intermediates_.push_back(X509Ptr(X509_dup(c.get())));
    chain_tail_pem_ += toPem(c.get());
  }
  roots_pem_.clear();
  for (const auto& r : roots) roots_pem_ += toPem(r.get());

  char subject[256] = {};
  X509_NAME_oneline(X509_get_subject_name(ca_cert_.get()), subject, sizeof subject);
  if (created) {
    HLOG_INFO("CA: created a self-signed root ({}, valid until {}) in {}", subject,
              rfc3339(not_after_), dir_);
  } else if (self_signed_) {
    HLOG_INFO("CA: using the self-signed root {} (valid until {}) from {}", subject,
              rfc3339(not_after_), dir_);
  } else {
    HLOG_INFO("CA: using the plug-in CA {} (valid until {}, {} intermediates, {} roots) from {}",
              subject, rfc3339(not_after_), intermediates_.size(), roots.size(), dir_);
  }
  if (not_after_ - now < 30 * 24 * 3600) {
    HLOG_WARN("CA: {} expires at {}: workload certificates end there too; renew it", path(kCaCert),
              rfc3339(not_after_));
  }
  return common::Ok{};
}

common::Expected<IssuedCertificate> CertificateAuthority::signCsr(const std::string& csr_pem,
                                                                  const std::string& spiffe_id,
                                                                  std::chrono::seconds ttl) const {
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  ReqPtr req(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!req) {
    openSslError();
    return invalid(
        "the CSR is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key) {
    openSslError();
    return invalid("the CSR's public key cannot be read");
  }
  if (!acceptableCsrKey(key)) {
    return invalid("the CSR's key is " + describeKey(key) +
                   ": expected ECDSA P-256 or P-384, or RSA of 2048 bits or more");
  }
  if (X509_REQ_verify(req.get(), key) != 1) {
    openSslError();
    return invalid("the CSR's signature does not verify: it was not signed by the key it carries");
  }
  ServingNames names;
  names.uris.push_back(spiffe_id);
  std::lock_guard lock(mu_);
  return issue(key, names, ttl);
}

common::Expected<ServingCertificate> CertificateAuthority::issueServing(
    const ServingNames& names, std::chrono::seconds ttl) const {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return internal("generate an ECDSA P-256 key");
  ServingCertificate out;
  {
    std::lock_guard lock(mu_);
    auto issued = issue(key.get(), names, ttl);
    if (!issued) return common::unexpected(issued.error());
    out.certificate = std::move(*issued);
  }
  out.private_key_pem = toPem(key.get());
  if (out.private_key_pem.empty()) return internal("encode the serving key as PEM");
  return out;
}

common::Expected<IssuedCertificate> CertificateAuthority::issue(EVP_PKEY* key,
                                                                const ServingNames& sans,
                                                                std::chrono::seconds ttl) const {
  if (ttl.count() <= 0) return invalid("a certificate lifetime must be positive");
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 || !setRandomSerial(cert.get()))
    return internal("make a certificate");
  // The subject stays empty: the identity is the SAN alone (which is then critical, RFC 5280).
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert_.get())) != 1)
    return internal("set the issuer");
  const int64_t now = time(nullptr);
  IssuedCertificate out;
  out.not_before = now - kClockSkewSeconds;
  out.not_after = std::min(now + static_cast<int64_t>(ttl.count()), not_after_);
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(out.not_before)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(out.not_after)) ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return internal("set the certificate's validity and key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert_.get(), cert.get(), nullptr, nullptr, 0);
  if (!addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !addExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth") ||
      !addExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash") ||
      !addExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid")) {
    return internal("add the certificate's extensions");
  }
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  bool ok = names != nullptr;
  for (const auto& n : sans.dns) ok = ok && addName(names, GEN_DNS, n);
  for (const auto& n : sans.ips) ok = ok && addName(names, GEN_IPADD, n);
  for (const auto& n : sans.uris) ok = ok && addName(names, GEN_URI, n);
  ok = ok && X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names, 1, X509V3_ADD_DEFAULT) == 1;
  GENERAL_NAMES_free(names);
  if (!ok) return internal("add the certificate's subject alternative names");
  if (X509_sign(cert.get(), ca_key_.get(), digestFor(ca_key_.get())) <= 0)
    return internal("sign the certificate");
  out.serial_hex = serialHex(cert.get());
  out.chain_pem = toPem(cert.get()) + chain_tail_pem_;
  return out;
}

}  // namespace halyard::control::ca
