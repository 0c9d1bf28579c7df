// A blocking HTTP/1.1 GET for the control plane's JWKS fetcher: http:// and https:// URLs, one
// request per connection, the whole exchange bounded by a timeout. HTTPS verifies the server's
// certificate and name against the system's roots (and an extra CA bundle when given), as
// istiod does for jwksUri. Small on purpose: a key set is a few kilobytes.
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"

namespace halyard::control::jwks {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{5000};
  std::string ca_file;  // extra roots for https (PEM); empty: the system's only
  size_t max_body = 1 << 20;
};

// The body of a 200 answer; any other status, a malformed answer, a refused connection or the
// timeout is an error whose sentence names the URL and what went wrong.
common::Expected<std::string> httpGet(const std::string& url, const HttpGetOptions& options);

}  // namespace halyard::control::jwks
