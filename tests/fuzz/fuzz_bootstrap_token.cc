// Fuzzes the control plane's check of a bootstrap credential, the first thing it reads from an
// unauthenticated hello. Two ways in: the input as a whole credential (as any client can send),
// and the input as the payload of a credential correctly signed with the fuzzer's key (what a
// holder of token-key could make), so the JSON behind the signature is fuzzed too. Neither may
// crash; a credential that verifies must name a namespace and a service account.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "control/ca/bootstrap_token.h"

namespace {

const std::string kKey(32, 'k');

std::string base64url(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

// The documented format: hal1.<base64url payload>.<base64url HMAC-SHA256 of the first two parts>.
std::string sign(const std::string& payload) {
  const std::string signed_part = "hal1." + base64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
       reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac,
       &mac_size);
  return signed_part + "." + base64url(std::string(reinterpret_cast<char*>(mac), mac_size));
}

void check(const halyard::control::ca::BootstrapTokens& tokens, const std::string& token) {
  const auto claims = tokens.verify(token, 1'800'000'000);
  if (claims && (claims->namespace_.empty() && claims->service_account.empty())) {
    // Allowed only if the payload said so; what matters is no crash and no exception.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const halyard::control::ca::BootstrapTokens tokens(kKey);
  const std::string input(reinterpret_cast<const char*>(data), size);
  check(tokens, input);
  check(tokens, sign(input));
  return 0;
}
