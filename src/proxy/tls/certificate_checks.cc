#include "proxy/tls/certificate_checks.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace halyard::proxy::tls {

namespace {

// The certificate's URI subject alternative names, in order.
std::vector<std::string> uriSans(X509* cert) {
  std::vector<std::string> out;
  GENERAL_NAMES* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_STRING* s = name->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

bool sanMatches(X509* cert, const std::string& san) {
  if (san.find("://") != std::string::npos) {
    const std::vector<std::string> uris = uriSans(cert);
    return std::find(uris.begin(), uris.end(), san) != uris.end();
  }
  if (X509_check_ip_asc(cert, san.c_str(), 0) == 1) return true;
  // Only the DNS names count, as with Envoy: without the flag, OpenSSL falls back to the
  // subject's CN when the certificate has no DNS SAN.
  return X509_check_host(cert, san.data(), san.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                         nullptr) == 1;
}

std::string hexLower(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

std::string normaliseHex(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c != ':') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string spkiBase64(X509* cert) {
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (size <= 0) return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_Digest(der, static_cast<size_t>(size), digest.data(), &digest_size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::array<unsigned char, 64> encoded{};
  const int n = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(n));
}

}  // namespace

std::string checkCertificate(X509* cert, const CertificateChecks& checks) {
  if (!checks.subject_alt_names.empty() &&
      std::none_of(checks.subject_alt_names.begin(), checks.subject_alt_names.end(),
                   [&](const std::string& san) { return sanMatches(cert, san); })) {
    std::string names;
    for (const auto& s : checks.subject_alt_names) names += (names.empty() ? "" : ", ") + s;
    return "no subject alternative name of the certificate matches " + names;
  }
  if (!checks.spki_sha256.empty()) {
    const std::string spki = spkiBase64(cert);
    if (std::find(checks.spki_sha256.begin(), checks.spki_sha256.end(), spki) ==
        checks.spki_sha256.end()) {
      return "the certificate's public key (SPKI SHA-256 " + spki + ") is not one of the allowed";
    }
  }
  if (!checks.cert_sha256.empty()) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    X509_digest(cert, EVP_sha256(), digest.data(), &size);
    const std::string hash = hexLower(digest.data(), size);
    if (std::none_of(checks.cert_sha256.begin(), checks.cert_sha256.end(),
                     [&](const std::string& h) { return normaliseHex(h) == hash; })) {
      return "the certificate's SHA-256 hash " + hash + " is not one of the allowed";
    }
  }
  return {};
}

std::string firstUriSan(X509* cert) {
  std::vector<std::string> uris = uriSans(cert);
  return uris.empty() ? std::string() : std::move(uris.front());
}

std::string certificateSha256(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), digest, &size) != 1) return {};
  return hexLower(digest, size);
}

}  // namespace halyard::proxy::tls
