#include "proxy/authn/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <nlohmann/json.hpp>

#include "proxy/authn/base64url.h"

namespace halyard::proxy::authn {

namespace {

using json = nlohmann::json;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamsFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// A string member, or why not (Envoy's wording).
const std::string* member(const json& key, const char* name) {
  const auto it = key.find(name);
  return it != key.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

std::shared_ptr<EVP_PKEY> fromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamsFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(pkey, Jwks::KeyFree{});
}

common::Result<std::shared_ptr<EVP_PKEY>, std::string> rsaKey(const json& key,
                                                              const std::string& alg) {
  if (!alg.empty() && !alg.starts_with("RS") && !alg.starts_with("PS")) {
    return common::unexpected(std::string("[alg] is not started with [RS] or [PS] for an RSA key"));
  }
  const std::string* n = member(key, "n");
  const std::string* e = member(key, "e");
  if (!n) return common::unexpected(std::string("[n] field is missing for a RSA key"));
  if (!e) return common::unexpected(std::string("[e] field is missing for a RSA key"));
  std::string n_bytes, e_bytes;
  if (!decodeBase64Url(*n, n_bytes) || !decodeBase64Url(*e, e_bytes) || n_bytes.empty() ||
      e_bytes.empty()) {
    return common::unexpected(
        std::string("Jwks RSA [n] or [e] field is missing or has a parse error"));
  }
  std::unique_ptr<BIGNUM, BnFree> bn_n(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes.data()),
                static_cast<int>(n_bytes.size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes.data()),
                static_cast<int>(e_bytes.size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return common::unexpected(
        std::string("Jwks RSA [n] or [e] field is missing or has a parse error"));
  }
  auto pkey = fromParams("RSA", bld.get());
  if (!pkey) {
    return common::unexpected(
        std::string("Jwks RSA [n] or [e] field is missing or has a parse error"));
  }
  return pkey;
}

// The OpenSSL group and the coordinate size of a JWK curve; nullptr for an unknown one.
const char* ecGroup(const std::string& crv, size_t& coordinate) {
  if (crv == "P-256") return coordinate = 32, "P-256";
  if (crv == "P-384") return coordinate = 48, "P-384";
  if (crv == "P-521") return coordinate = 66, "P-521";
  return nullptr;
}

common::Result<std::shared_ptr<EVP_PKEY>, std::string> ecKey(const json& key,
                                                             const std::string& alg,
                                                             std::string& crv_out) {
  if (!alg.empty() && !alg.starts_with("ES")) {
    return common::unexpected(std::string("[alg] is not started with [ES] for an EC key"));
  }
  const std::string* crv = member(key, "crv");
  // Without crv, the algorithm names the curve (ES256 -> P-256), as Envoy allows.
  std::string curve = crv              ? *crv
                      : alg == "ES256" ? "P-256"
                      : alg == "ES384" ? "P-384"
                      : alg == "ES512" ? "P-521"
                                       : "";
  size_t coordinate = 0;
  const char* group = ecGroup(curve, coordinate);
  if (!group) {
    return common::unexpected(std::string("[crv] or [alg] field is not supported for an EC key"));
  }
  const std::string expected_alg = coordinate == 32   ? "ES256"
                                   : coordinate == 48 ? "ES384"
                                                      : "ES512";
  if (!alg.empty() && alg != expected_alg) {
    return common::unexpected(
        std::string("[crv] field specified is not compatible with [alg] for an EC key"));
  }
  const std::string* x = member(key, "x");
  const std::string* y = member(key, "y");
  if (!x) return common::unexpected(std::string("[x] field is missing for an EC key"));
  if (!y) return common::unexpected(std::string("[y] field is missing for an EC key"));
  std::string xb, yb;
  if (!decodeBase64Url(*x, xb) || !decodeBase64Url(*y, yb)) {
    return common::unexpected(std::string("Jwks EC [x] or [y] field is an invalid Base64."));
  }
  if (xb.size() != coordinate || yb.size() != coordinate) {
    return common::unexpected(std::string("Jwks EC [x] and [y] fields have a parse error."));
  }
  const std::string point = std::string(1, '\x04') + xb + yb;  // uncompressed
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return common::unexpected(std::string("Jwks EC create key fail"));
  }
  auto pkey = fromParams("EC", bld.get());
  if (!pkey) return common::unexpected(std::string("Jwks EC create key fail"));
  crv_out = curve;
  return pkey;
}

common::Result<std::shared_ptr<EVP_PKEY>, std::string> okpKey(const json& key,
                                                              const std::string& alg,
                                                              std::string& crv_out) {
  if (!alg.empty() && alg != "EdDSA") {
    return common::unexpected(std::string("[alg] is not [EdDSA] for an OKP key"));
  }
  const std::string* crv = member(key, "crv");
  if (!crv) return common::unexpected(std::string("[crv] field is missing for an OKP key"));
  if (*crv != "Ed25519") {
    return common::unexpected(std::string("[crv] field is not supported for an OKP key"));
  }
  const std::string* x = member(key, "x");
  if (!x) return common::unexpected(std::string("[x] field is missing for an OKP key"));
  std::string raw;
  if (!decodeBase64Url(*x, raw)) {
    return common::unexpected(std::string("Jwks OKP [x] field is an invalid Base64."));
  }
  if (raw.size() != 32) {
    return common::unexpected(std::string("Jwks OKP [x] field is wrong length."));
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (!pkey) return common::unexpected(std::string("Jwks OKP [x] field is wrong length."));
  crv_out = *crv;
  return std::shared_ptr<EVP_PKEY>(pkey, Jwks::KeyFree{});
}

}  // namespace

common::Result<Jwks, std::string> Jwks::parse(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return common::unexpected(std::string("Jwks is an invalid JSON"));
  }
  const auto keys = doc.find("keys");
  if (keys == doc.end()) return common::unexpected(std::string("Jwks does not have [keys] field"));
  if (!keys->is_array()) return common::unexpected(std::string("[keys] in Jwks is not an array"));
  Jwks out;
  size_t index = 0;
  for (const json& key : *keys) {
    const std::string where = "key " + std::to_string(index++) + ": ";
    if (!key.is_object()) {
      out.skipped_.push_back(where + "not a JSON object");
      continue;
    }
    const std::string* kty = member(key, "kty");
    if (!kty) {
      out.skipped_.push_back(where + "[kty] is missing in [keys]");
      continue;
    }
    Key k;
    k.kty = *kty;
    if (const std::string* kid = member(key, "kid")) k.kid = *kid;
    if (const std::string* alg = member(key, "alg")) k.alg = *alg;
    common::Result<std::shared_ptr<EVP_PKEY>, std::string> built =
        common::unexpected(std::string("[kty] is not supported in [keys]"));
    if (*kty == "RSA") {
      built = rsaKey(key, k.alg);
    } else if (*kty == "EC") {
      built = ecKey(key, k.alg, k.crv);
    } else if (*kty == "OKP") {
      built = okpKey(key, k.alg, k.crv);
    }
    if (!built) {
      out.skipped_.push_back(where + built.error());
      continue;
    }
    k.pkey = std::move(*built);
    out.keys_.push_back(std::move(k));
  }
  if (out.keys_.empty()) {
    std::string why = "Jwks doesn't have any valid public key";
    for (const auto& s : out.skipped_) why += "; " + s;
    return common::unexpected(std::move(why));
  }
  return out;
}

}  // namespace halyard::proxy::authn
