#include "control/ca/bootstrap_token.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "control/ca/openssl_util.h"

namespace halyard::control::ca {

namespace {

namespace fs = std::filesystem;

constexpr size_t kKeyBytes = 32;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return out;  // unpadded, as in JWTs
}

bool unbase64url(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kAlphabet, c);
    if (c == '\0' || !p) return false;
    acc = (acc << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return bits < 6;  // a lone 6-bit digit at the end is not valid base64
}

// Kubernetes names: a namespace is a DNS label, a service account a DNS subdomain.
bool validName(const std::string& name, bool dots, size_t max) {
  if (name.empty() || name.size() > max) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : name) {
    if (!alnum(c) && c != '-' && !(dots && c == '.')) return false;
  }
  return alnum(name.front()) && alnum(name.back());
}

common::Unexpected<common::Error> unauthenticated(const std::string& why) {
  return common::fail(common::ErrorKind::kInvalidArgument, "credential: " + why);
}

common::Unexpected<common::Error> malformed() {
  return unauthenticated(
      "malformed: expected hal1.<payload>.<signature> as `halyard token create` prints it");
}

// Makes `path` with fresh random bytes unless it exists; link() makes the name appear with its
// whole content or not at all, and fails when another process got there first.
common::Expected<void> createKey(const std::string& path) {
  unsigned char bytes[kKeyBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return common::fail(common::ErrorKind::kInternal, "cannot generate the token key");
  }
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) {
    return common::fail(common::ErrorKind::kIo,
                        "cannot create " + path + ": " + std::strerror(errno));
  }
  const bool written = fchmod(fd, 0600) == 0 &&
                       write(fd, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes) &&
                       fsync(fd) == 0;
  const int write_errno = errno;
  close(fd);
  const bool linked = written && (link(tmp.c_str(), path.c_str()) == 0 || errno == EEXIST);
  const int link_errno = errno;
  unlink(tmp.c_str());
  if (!linked) {
    return common::fail(
        common::ErrorKind::kIo,
        "cannot create " + path + ": " + std::strerror(written ? link_errno : write_errno));
  }
  return common::Ok{};
}

}  // namespace

common::Expected<BootstrapTokens> BootstrapTokens::open(const std::string& dir) {
  if (dir.empty()) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "the CA directory is empty: pass --ca-dir DIR");
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::path path;
    for (const auto& part : fs::path(dir)) {
      path /= part;
      if (!part.empty() && part != "/") mkdir(path.c_str(), 0700);
    }
  }
  const std::string path = (fs::path(dir) / kKeyFile).string();
  if (!fs::exists(path, ec)) {
    if (auto made = createKey(path); !made) return common::unexpected(made.error());
    HLOG_DEBUG("created the credential signing key {}", path);
  }
  auto key = readFile(path);
  if (!key) return common::unexpected(key.error());
  if (key->size() < kKeyBytes) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        path + " holds " + std::to_string(key->size()) +
                            " bytes: a credential signing key needs at least 32 (delete it to "
                            "have a new one made; credentials made with it stop working)");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    HLOG_WARN(
        "{} can be read by other users (mode {:o}): whoever reads it can make credentials; "
        "chmod 600 it",
        path, st.st_mode & 0777);
  }
  return BootstrapTokens(std::move(*key));
}

std::string BootstrapTokens::mac(const std::string& signed_part) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
            reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), out,
            &len)) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

common::Expected<std::string> BootstrapTokens::create(const std::string& namespace_,
                                                      const std::string& service_account,
                                                      int64_t ttl_seconds, int64_t now) const {
  if (!validName(namespace_, false, 63)) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "namespace \"" + namespace_ +
                            "\" is not a Kubernetes namespace name (lower-case letters, digits "
                            "and '-', at most 63)");
  }
  if (!validName(service_account, true, 253)) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "service account \"" + service_account +
                            "\" is not a Kubernetes name (lower-case letters, digits, '-' and "
                            "'.', at most 253)");
  }
  if (ttl_seconds < 0) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "a credential's lifetime cannot be negative");
  }
  const nlohmann::json payload = {{"ns", namespace_},
                                  {"sa", service_account},
                                  {"iat", now},
                                  {"exp", ttl_seconds > 0 ? now + ttl_seconds : 0}};
  const std::string signed_part = std::string(kPrefix) + "." + base64url(payload.dump());
  const std::string m = mac(signed_part);
  if (m.empty()) return common::fail(common::ErrorKind::kInternal, "cannot sign the credential");
  return signed_part + "." + base64url(m);
}

common::Expected<TokenClaims> BootstrapTokens::verify(const std::string& token, int64_t now) const {
  const size_t first = token.find('.');
  const size_t second = first == std::string::npos ? first : token.find('.', first + 1);
  if (second == std::string::npos || token.find('.', second + 1) != std::string::npos ||
      token.compare(0, first, kPrefix) != 0 || first != std::strlen(kPrefix) ||
      second == first + 1 || second + 1 == token.size()) {
    return malformed();
  }
  const std::string signed_part = token.substr(0, second);
  std::string given;
  if (!unbase64url(std::string_view(token).substr(second + 1), given)) return malformed();
  const std::string expected = mac(signed_part);
  // Constant time: how much of a forged MAC matched must not show in the time taken.
  if (expected.empty() || given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return unauthenticated("bad signature: it was not made with this control plane's token-key");
  }
  std::string json;
  if (!unbase64url(std::string_view(token).substr(first + 1, second - first - 1), json)) {
    return malformed();
  }
  const nlohmann::json payload = nlohmann::json::parse(json, nullptr, false);
  if (!payload.is_object() || !payload.contains("ns") || !payload["ns"].is_string() ||
      !payload.contains("sa") || !payload["sa"].is_string() || !payload.contains("iat") ||
      !payload["iat"].is_number_integer() ||
      (payload.contains("exp") && !payload["exp"].is_number_integer())) {
    return malformed();
  }
  TokenClaims claims;
  claims.namespace_ = payload["ns"].get<std::string>();
  claims.service_account = payload["sa"].get<std::string>();
  claims.issued_at = payload["iat"].get<int64_t>();
  claims.expires_at = payload.value("exp", int64_t{0});
  if (claims.expires_at != 0 && now >= claims.expires_at) {
    return unauthenticated("expired at " + rfc3339(claims.expires_at) + " (made for " +
                           claims.namespace_ + "/" + claims.service_account +
                           "): make a new one with `halyard token create`");
  }
  return claims;
}

}  // namespace halyard::control::ca
