// RequestAuthentication compiled for one workload (or gateway), as the proxy's authentication
// phase applies it (proxy/authn/authenticator.h): the jwtRules of every RequestAuthentication
// that applies, merged, each with its key set inline (a jwksUri was fetched by the control plane
// and pushed as its JSON). A token present in the request must be valid for a rule of its issuer;
// no token passes unauthenticated, for an AuthorizationPolicy to decide.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace halyard::translate {

struct JwtHeaderLocation {
  std::string name;    // lowercase
  std::string prefix;  // stripped before the token ("Bearer "); empty: the whole value
};

struct JwtRule {
  std::string issuer;
  std::vector<std::string> audiences;  // empty: any audience
  std::string jwks;                    // the JSON Web Key Set, inline or fetched
  std::string jwks_uri;                // where `jwks` came from; empty: inline
  // Where the token may be: no location configured means the defaults (Authorization: Bearer,
  // the access_token parameter); configured locations replace the defaults.
  std::vector<JwtHeaderLocation> from_headers;
  std::vector<std::string> from_params;
  std::vector<std::string> from_cookies;
  bool forward_original_token = false;
  std::string output_payload_to_header;  // lowercase; empty: none
  std::vector<std::pair<std::string, std::string>> output_claim_to_headers;  // claim, header
  // Claims whose string value is a space-separated list (always "scope" and "permission").
  std::vector<std::string> space_delimited_claims;
  std::string origin;  // "shop/jwt-auth jwtRules[0]", for messages
};

}  // namespace halyard::translate
