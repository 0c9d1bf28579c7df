// URLs for the Kubernetes CEL URL library (url(), isURL(), getScheme(), getHost(), ...).
// Kubernetes checks strings with Go's url.ParseRequestURI, so this parses the same way: the text
// must be an absolute URI ("https://host/x") or an absolute path ("/x"); a scheme followed by a
// non-slash ("mailto:a", "localhost:80") is an opaque URI and accepted unchecked; the fragment is
// not split off, so a '#' in the authority makes the URL invalid.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace halyard::config::cel {

struct Url {
  std::string scheme;  // lower case; "" for an absolute path
  std::string host;    // the authority without user info, port included, %-decoded; may be ""
};

// The error is Go's reason, e.g. "invalid URI for request".
common::Result<Url, std::string> parseRequestUri(std::string_view text);

// Host without the port and without IPv6 brackets ("[::1]:80" -> "::1").
std::string_view urlHostname(const Url& url);
// The digits after the host's last ':' ("" when there is no port).
std::string_view urlPort(const Url& url);

}  // namespace halyard::config::cel
