// Istio's default path normalization (MeshConfig pathNormalization BASE, Envoy's normalize_path):
// before routing and authorization, and for what is forwarded, backslashes become slashes,
// percent-encoded unreserved characters ("%2E", "%41", ...) are decoded, and dot segments are
// removed as RFC 3986 §5.2.4 says ("/a/./b/../c" -> "/a/c"). The query is left as it is, and so
// are encoded slashes ("%2F": decoding them is a different option). Without it "/api/../admin"
// would be routed and authorized as something other than what the app serves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace halyard::proxy::http {

// MeshConfig pathNormalization (translate::PathNormalization, same order): kNone leaves the path
// as received; kMergeSlashes also turns "//" into "/" after kBase; kDecodeAndMergeSlashes first
// decodes "%2F" and "%5C" (Envoy's UNESCAPE_AND_FORWARD), so "/a%2F..%2Fb" is "/b" for routing,
// authorization and the app alike.
enum class PathNormalization : uint8_t { kNone, kBase, kMergeSlashes, kDecodeAndMergeSlashes };

// False when `path` (query included) is already normal: nothing is written, nothing allocated
// (the common case). True with the normalized path, query appended unchanged, in `out`.
bool normalizePath(std::string_view path, std::string& out,
                   PathNormalization mode = PathNormalization::kBase);

}  // namespace halyard::proxy::http
