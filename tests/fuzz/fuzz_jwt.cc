// Fuzzes what RequestAuthentication reads from strangers: a bearer token (any request may carry
// one) and a JSON Web Key Set (fetched from a jwksUri). The input is tried as both; neither may
// crash, and a token that parses keeps its signed part inside the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/authn/jwks.h"
#include "proxy/authn/jwt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace halyard::proxy::authn;
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto jwt = parseJwt(input);
  if (jwt && input.compare(0, jwt->signed_part.size(), jwt->signed_part) != 0) __builtin_trap();
  auto keys = Jwks::parse(input);
  if (keys && keys->keys().empty()) __builtin_trap();
  if (jwt && keys) (void)verifyJwt(*jwt, JwtProvider{}, *keys, 1'800'000'000);
  return 0;
}
