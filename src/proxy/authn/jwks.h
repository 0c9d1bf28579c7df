// A JSON Web Key Set (RFC 7517) compiled into OpenSSL public keys once, when the config (or a
// fetched JWKS) arrives; tokens are then verified against it without parsing anything again.
// RSA (n, e), EC (P-256, P-384, P-521: x, y) and OKP (Ed25519: x) keys; symmetric ("oct") keys
// are refused, as Istio takes public keys only. A key that cannot be used is skipped and named
// in `skipped`; a set with no usable key at all is an error.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace halyard::proxy::authn {

class Jwks {
 public:
  struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };

  struct Key {
    std::string kid;  // empty: none
    std::string alg;  // empty: any algorithm of its type
    std::string kty;  // "RSA", "EC", "OKP"
    std::string crv;  // EC / OKP curve
    std::shared_ptr<EVP_PKEY> pkey;
  };

  // The error is Envoy's sentence ("Jwks is an invalid JSON", "Jwks doesn't have any valid
  // public key", ...).
  static common::Result<Jwks, std::string> parse(std::string_view json);

  const std::vector<Key>& keys() const { return keys_; }
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<Key> keys_;
  std::vector<std::string> skipped_;  // "key 2: [x] field is missing for an EC key"
};

}  // namespace halyard::proxy::authn
