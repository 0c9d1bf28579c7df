// Istio's default path normalization (MeshConfig pathNormalization BASE, Envoy's normalize_path):
// before routing and authorization, and for what is forwarded, backslashes become slashes,
// percent-encoded unreserved characters ("%2E", "%41", ...) are decoded, and dot segments are
// removed as RFC 3986 §5.2.4 says ("/a/./b/../c" -> "/a/c"). The query is left as it is, and so
// are encoded slashes ("%2F": decoding them is a different option). Without it "/api/../admin"
// would be routed and authorized as something other than what the app serves.
#pragma once

#include <string>
#include <string_view>

namespace halyard::proxy::http {

// False when `path` (query included) is already normal: nothing is written, nothing allocated
// (the common case). True with the normalized path, query appended unchanged, in `out`.
bool normalizePath(std::string_view path, std::string& out);

}  // namespace halyard::proxy::http
