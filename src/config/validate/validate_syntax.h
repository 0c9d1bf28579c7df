// Value syntax as Istio's webhook checks it: DNS names with a left-most wildcard, namespace/host
// entries, IP addresses and CIDRs (Go netip rules: no leading zeros), ports, label maps, RE2
// regexes, header values with Envoy's %VAR% syntax, and durations (Go time.ParseDuration text).
// Each check returns what is wrong, or nothing when the value is fine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace halyard::config {

// A rejected value: what is wrong with it and what Istio expects instead.
struct Problem {
  std::string what;
  std::string expected;
};
using Check = std::optional<Problem>;

bool isDns1123Label(std::string_view s);
// "*", "*foo", "*-foo" or a DNS-1123 label.
bool isWildcardDns1123Label(std::string_view s);
bool isIpAddress(std::string_view s);
bool isCidr(std::string_view s);

// A fully qualified or short DNS name ("reviews", "a.example.com", "istio.io.").
Check checkFqdn(std::string_view name);
// As checkFqdn, but the left-most label may be a wildcard ("*", "*.example.com").
Check checkWildcardDomain(std::string_view name);
// VirtualService hosts and SNI hosts of a gateway-bound VirtualService: as checkWildcardDomain,
// plus the generated "outbound_.<port>_.<subset>_.<host>" SNI names when `sni` is set.
Check checkGatewayBoundDomain(bool sni, std::string_view name);
// Gateway server hosts ("[ns/]host", IPs allowed) and Sidecar egress hosts ("ns/host").
Check checkNamespacedHost(std::string_view entry, bool gateway);
// An IP address or a CIDR block.
Check checkIpSubnet(std::string_view s);
// The path of a unix:// address: absolute and not a directory, or an abstract "@name".
Check checkUnixPath(std::string_view path);
Check checkPort(int64_t port);
// Kubernetes label keys ([prefix/]name) and values.
Check checkLabelKey(std::string_view key);
Check checkLabelValue(std::string_view value);
// RE2 syntax and Envoy's length limit of 1024.
Check checkRegex(std::string_view re);
// No control characters; %VAR% / %VAR(args)% expressions well formed, "%%" for a literal %.
Check checkHeaderValue(std::string_view value);
// RFC 7230 token characters (HTTP header names).
bool isHeaderToken(std::string_view name);

// Port protocols, case-insensitive as Istio parses them: HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-WEB,
// HTTPS, TLS, TCP, UDP, MONGO, REDIS, MYSQL. "" is not a protocol (it means sniffing).
bool isKnownProtocol(std::string_view protocol);
bool isHttpProtocol(std::string_view protocol);  // HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-WEB
bool isTlsProtocol(std::string_view protocol);   // HTTPS, TLS

// `text` in double quotes, for naming a value in a message.
std::string inQuotes(std::string_view text);
// A number as a message shows it: "150", "0.5".
std::string formatNumber(double value);

// Nanoseconds of a duration; nullopt when the text does not parse.
std::optional<int64_t> durationNanos(std::string_view text);
// Istio's duration rule: parses, at least 1ms, whole milliseconds.
Check checkDuration(std::string_view text);
// Only the whole-milliseconds part, for fields whose CRD rule already enforces ">= 1ms".
Check checkDurationPrecision(std::string_view text);

}  // namespace halyard::config
