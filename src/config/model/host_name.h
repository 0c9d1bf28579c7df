// Host-name and reference rules shared by the analyzers, the registry and translation: Istio's
// short-name expansion, wildcard host matching, gateway references, Gateway server "ns/host"
// entries, exportTo visibility and label selectors. Pure string functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace halyard::config::model {

inline constexpr std::string_view kDefaultClusterDomain = "cluster.local";

// "reviews" in namespace "foo" -> "reviews.foo.svc.cluster.local". Only names without a dot are
// expanded; "*", IP addresses (v4 has dots, v6 has colons) and FQDNs stay as written.
std::string resolveShortName(std::string_view host, std::string_view namespace_,
                             std::string_view domain = kDefaultClusterDomain);

// True when either name covers the other. A wildcard is "*" or a left-most "*." label.
bool hostMatches(std::string_view a, std::string_view b);

// True when every name matched by `a` is also matched by `b`: "a.b.foo.com" and "*.a.foo.com"
// are subsets of "*.foo.com"; "foo.com" is not; everything is a subset of "*".
bool hostSubsetOf(std::string_view a, std::string_view b);

// A VirtualService `gateways` entry as "namespace/name": "name" and "./name" take the
// VirtualService's namespace, legacy "name.ns.svc.cluster.local" (any dotted form) gives
// "ns/name", "ns/name" stays. "mesh" stays "mesh".
std::string resolveGatewayName(std::string_view ref, std::string_view vs_namespace);

// A Gateway server `hosts` entry split into namespace and host. No "ns/" prefix means every
// namespace ("*"); "./" means the Gateway's own namespace.
struct NamespacedHost {
  std::string namespace_;
  std::string host;
};
NamespacedHost parseNamespacedHost(std::string_view entry, std::string_view own_namespace);

// Whether an object in `from_namespace` with this exportTo list is visible in `to_namespace`.
// Entries: "*" everywhere, "." the object's own namespace, "~" nowhere, or namespace names.
// An empty list means everywhere (the mesh default).
bool isVisible(const std::vector<std::string>& export_to, std::string_view from_namespace,
               std::string_view to_namespace);

// Kubernetes equality-based selection: every selector label is present with the same value.
// An empty selector selects everything.
bool selectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels);

// "k1=v1,k2=v2", the way messages show a selector or a label set.
std::string selectorText(const std::map<std::string, std::string>& labels);

}  // namespace halyard::config::model
