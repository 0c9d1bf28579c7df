// base64url (RFC 4648 §5), as JWTs and JWKs carry binary: no padding, '-' and '_'.
#pragma once

#include <string>
#include <string_view>

namespace halyard::proxy::authn {

// Decodes `in` into `out` (replaced); trailing '=' padding is accepted. False on any character
// outside the alphabet or an impossible length.
bool decodeBase64Url(std::string_view in, std::string& out);

}  // namespace halyard::proxy::authn
