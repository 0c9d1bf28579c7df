// A proxy's admin endpoint read from the CLI (`proxy-config endpoints` takes endpoint health
// from /clusters, as istioctl reads Envoy's): one plain HTTP/1.1 GET with a short timeout.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace halyard::cli {

// The body of GET http://<address><path> when the answer is 200; nullopt otherwise (the proxy
// has no admin listener, or it cannot be reached from here).
std::optional<std::string> fetchAdmin(const std::string& address, const std::string& path);

// From Envoy-style /clusters text: "<cluster>::<ip:port>" -> its health_flags value.
std::map<std::string, std::string> healthFlags(const std::string& clusters_text);

}  // namespace halyard::cli
