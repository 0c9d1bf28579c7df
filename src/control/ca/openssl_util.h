// Small OpenSSL helpers shared by the CA and the token signer: owning pointers, PEM in and out,
// the error queue as a sentence, and atomic file writes for the CA directory.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace halyard::control::ca {

template <auto Free>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;

// The oldest error on OpenSSL's queue as text ("" when there is none); clears the queue.
std::string openSslError();

// Every certificate in `pem` (in order); empty when there is none. Text between blocks is
// ignored, as openssl does.
std::vector<X509Ptr> parseCertificates(std::string_view pem);
std::string toPem(const X509* cert);
std::string toPem(const EVP_PKEY* key);  // PKCS#8

// The serial as `openssl x509 -serial` prints it (upper-case hex).
std::string serialHex(const X509* cert);
// ASN1_TIME to seconds since the epoch.
int64_t epochSeconds(const ASN1_TIME* t);
// Seconds since the epoch as RFC 3339 UTC ("2025-01-31T12:00:00Z").
std::string rfc3339(int64_t epoch_seconds);

// Reads a whole file; an error names the path.
common::Expected<std::string> readFile(const std::string& path);
// Writes `content` to a temporary file beside `path` with `mode`, then renames it over `path`:
// a reader sees the old content or the new, never half of it.
common::Expected<void> writeFileAtomically(const std::string& path, std::string_view content,
                                           mode_t mode);

}  // namespace halyard::control::ca
