#include "config/validate/validate_syntax.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <charconv>
#include <cstdio>
#include <initializer_list>
#include <vector>

#include "config/validate/cel_duration.h"

namespace halyard::config {

namespace {

constexpr int64_t kMillisecond = 1'000'000;

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, at - start));
    start = at + 1;
  }
}

// The body of a DNS-1123 label without Istio's length limit: alphanumerics and inner dashes.
bool isLabelText(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  for (char c : s) {
    if (!isAlnum(c) && c != '-') return false;
  }
  return true;
}

// Go's strconv.Atoi success: an optional sign and decimal digits that fit in 64 bits.
bool isInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == s.npos;
}

const char* kDnsExpected = "a DNS-1123 name of at most 255 characters";

Check dnsPreconditions(std::string_view name) {
  if (name.empty()) return Problem{"empty host name", kDnsExpected};
  if (name.size() > 255) return Problem{"host name too long", kDnsExpected};
  return std::nullopt;
}

// Istio's label walk over "a.b.c": every label DNS-1123, the last one not all digits, a single
// trailing dot allowed.
Check dnsLabels(std::string_view domain) {
  auto parts = split(domain, '.');
  if (isInteger(parts.back())) {
    return Problem{"top-level domain " + std::string(parts.back()) + " is all digits",
                   "a DNS name whose last label is not numeric"};
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i + 1 == parts.size() && parts[i].empty()) return std::nullopt;
    if (!isDns1123Label(parts[i])) {
      return Problem{"label \"" + std::string(parts[i]) + "\" is not a DNS-1123 label",
                     "labels of letters, digits and inner '-', at most 63 characters"};
    }
  }
  return std::nullopt;
}

bool parseIpv4(std::string_view s) {
  auto parts = split(s, '.');
  if (parts.size() != 4) return false;
  for (auto p : parts) {
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != p.npos) return false;
    if (p.size() > 1 && p[0] == '0') return false;
    int v = 0;
    std::from_chars(p.data(), p.data() + p.size(), v);
    if (v > 255) return false;
  }
  return true;
}

bool parseIpv6(std::string_view s) {
  std::string text(s);
  in6_addr addr{};
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

}  // namespace

bool isDns1123Label(std::string_view s) {
  return s.size() <= 63 && isLabelText(s);
}

bool isWildcardDns1123Label(std::string_view s) {
  if (s.size() > 63) return false;
  if (s == "*") return true;
  if (s.starts_with("*-")) return isLabelText(s.substr(2));
  if (s.starts_with("*")) return isLabelText(s.substr(1));
  return isLabelText(s);
}

bool isIpAddress(std::string_view s) {
  if (parseIpv4(s)) return true;
  if (s.find(':') == std::string_view::npos) return false;
  // Go's netip accepts an IPv6 zone ("fe80::1%eth0"); inet_pton does not.
  if (auto zone = s.find('%'); zone != std::string_view::npos) {
    if (zone + 1 == s.size()) return false;
    s = s.substr(0, zone);
  }
  return parseIpv6(s);
}

bool isCidr(std::string_view s) {
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return false;
  std::string_view addr = s.substr(0, slash), bits = s.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != bits.npos ||
      (bits.size() > 1 && bits[0] == '0')) {
    return false;
  }
  int n = 0;
  std::from_chars(bits.data(), bits.data() + bits.size(), n);
  if (parseIpv4(addr)) return n <= 32;
  return addr.find(':') != std::string_view::npos && addr.find('%') == std::string_view::npos &&
         parseIpv6(addr) && n <= 128;
}

Check checkFqdn(std::string_view name) {
  if (auto p = dnsPreconditions(name)) return p;
  return dnsLabels(name);
}

Check checkWildcardDomain(std::string_view name) {
  if (auto p = dnsPreconditions(name)) return p;
  auto dot = name.find('.');
  std::string_view first = name.substr(0, dot);
  if (!isWildcardDns1123Label(first)) {
    return Problem{"label \"" + std::string(first) + "\" is not a DNS-1123 label",
                   "a DNS name, with a wildcard only as the whole left-most label (\"*.\")"};
  }
  if (dot == std::string_view::npos) return std::nullopt;
  return dnsLabels(name.substr(dot + 1));
}

Check checkGatewayBoundDomain(bool sni, std::string_view name) {
  if (sni && name.starts_with("outbound_.")) {
    if (auto p = dnsPreconditions(name)) return p;
    // Generated SNI "outbound_.<port>_.<subset>_.<host>": Istio only requires a port digit.
    if (name.size() > 10 && name[10] >= '0' && name[10] <= '8') return std::nullopt;
    return Problem{"malformed generated SNI name", "outbound_.<port>_.<subset>_.<host>"};
  }
  return checkWildcardDomain(name);
}

Check checkNamespacedHost(std::string_view entry, bool gateway) {
  std::string_view ns, host = entry;
  auto slash = entry.find('/');
  if (slash == std::string_view::npos) {
    if (!gateway) return Problem{"host is not of the form namespace/dnsName", "namespace/dnsName"};
  } else {
    ns = entry.substr(0, slash);
    host = entry.substr(slash + 1);
    if (ns.empty() || host.empty()) {
      return Problem{"empty namespace or host name", "namespace/dnsName with both parts set"};
    }
    bool special = ns == "*" || ns == "." || (!gateway && ns == "~");
    if (!special && !isDns1123Label(ns)) {
      return Problem{
          "namespace \"" + std::string(ns) + "\" is not valid",
          gateway ? "\"*\", \".\" or a namespace name" : "\"*\", \".\", \"~\" or a namespace name"};
    }
  }
  if (host != "*" && host.find('.') == std::string_view::npos) {
    return Problem{"short host names are not allowed here", "a fully qualified name or \"*\""};
  }
  // Gateways also accept an IP address as the host.
  if (auto p = checkWildcardDomain(host); p && !(gateway && isIpAddress(host))) return p;
  if (host.find('*') != std::string_view::npos && host.size() != 1 && !host.starts_with("*.")) {
    return Problem{"partial wildcard", "\"*\" or a wildcard as the whole left-most label"};
  }
  return std::nullopt;
}

Check checkIpSubnet(std::string_view s) {
  size_t slashes = 0;
  for (char c : s) slashes += c == '/';
  if (slashes == 1) {
    if (isCidr(s)) return std::nullopt;
    return Problem{"invalid CIDR block", "an address with a prefix length, e.g. 10.0.0.0/16"};
  }
  if (isIpAddress(s)) return std::nullopt;
  return Problem{"invalid IP address", "an IPv4 or IPv6 address"};
}

Check checkUnixPath(std::string_view path) {
  const char* expected = "an absolute file path or an abstract socket (@name)";
  if (path.empty()) return Problem{"empty unix socket address", expected};
  if (path.starts_with("@")) return std::nullopt;
  if (!path.starts_with("/") || path.ends_with("/")) {
    return Problem{"unix socket address is not an absolute path to a file", expected};
  }
  return std::nullopt;
}

Check checkPort(int64_t port) {
  if (port >= 1 && port <= 65535) return std::nullopt;
  return Problem{"port number out of range", "1..65535"};
}

namespace {

// Kubernetes "qualified name": alphanumerics, '-', '_' and '.', alphanumeric at both ends.
bool isQualifiedName(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  for (char c : s) {
    if (!isAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

Check checkLabelKey(std::string_view key) {
  std::string_view name = key;
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    bool ok = prefix.size() <= 253;
    for (auto label : split(prefix, '.')) ok = ok && isLabelText(label);
    if (!ok) return Problem{"invalid label key prefix", "[dns-subdomain/]name"};
  }
  if (isQualifiedName(name) && name.size() <= 63) return std::nullopt;
  return Problem{"invalid label key",
                 "alphanumerics, '-', '_' or '.', alphanumeric at both ends, at most 63 "
                 "characters, after an optional DNS prefix and '/'"};
}

Check checkLabelValue(std::string_view value) {
  if (value.empty() || isQualifiedName(value)) return std::nullopt;
  return Problem{"invalid label value",
                 "empty, or alphanumerics, '-', '_' or '.', alphanumeric at both ends"};
}

Check checkRegex(std::string_view re) {
  if (re.size() > 1024) return Problem{"regex too long", "at most 1024 characters"};
  RE2::Options options;
  options.set_log_errors(false);
  RE2 compiled(re, options);
  if (compiled.ok()) return std::nullopt;
  return Problem{"invalid regex: " + compiled.error(), "RE2 syntax"};
}

Check checkHeaderValue(std::string_view value) {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      return Problem{"control character in header value", "printable characters"};
    }
  }
  // Envoy's header formatter: "%%" is a literal %, otherwise %VAR% or %VAR(args)% where args is
  // a bare string or a JSON array of strings.
  enum class State { kLiteral, kName, kArrayOrArg, kString, kArrayString, kDelim, kArgsEnd, kEnd };
  State state = State::kLiteral;
  const Problem bad{"malformed %VARIABLE% expression in header value",
                    "%VAR%, %VAR(args)% or %% for a literal %"};
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    switch (state) {
      case State::kLiteral:
        if (c != '%') break;
        if (i + 1 == value.size()) return bad;
        if (value[i + 1] == '%') {
          ++i;
          break;
        }
        state = State::kName;
        break;
      case State::kName:
        if (c == '%')
          state = State::kLiteral;
        else if (c == '(')
          state = State::kArrayOrArg;
        break;
      case State::kArrayOrArg:
        if (c == '[')
          state = State::kArrayString;
        else if (c != ' ')
          state = State::kString;
        break;
      case State::kDelim:
        if (c == ',')
          state = State::kArrayString;
        else if (c == ']')
          state = State::kArgsEnd;
        else if (c != ' ')
          return bad;
        break;
      case State::kArrayString:
        if (c == '"')
          state = State::kString;
        else if (c != ' ')
          return bad;
        break;
      case State::kString:
        if (c == '\\') {
          if (i + 1 == value.size()) return bad;
          ++i;
        } else if (c == ')') {
          state = State::kEnd;
        } else if (c == '"') {
          state = State::kDelim;
        }
        break;
      case State::kArgsEnd:
        if (c == ')')
          state = State::kEnd;
        else if (c != ' ')
          return bad;
        break;
      case State::kEnd:
        if (c == '%')
          state = State::kLiteral;
        else if (c != ' ')
          return bad;
        break;
    }
  }
  if (state != State::kLiteral) return bad;
  return std::nullopt;
}

bool isHeaderToken(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    // Istio's pattern spells "+-." as a range, which also admits ','.
    if (!isAlnum(c) && std::string_view("!#$%&'*+,-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

bool isOneOf(std::string_view protocol, std::initializer_list<std::string_view> names) {
  std::string p = lower(protocol);
  for (auto n : names) {
    if (p == n) return true;
  }
  return false;
}

}  // namespace

bool isKnownProtocol(std::string_view protocol) {
  return isHttpProtocol(protocol) || isTlsProtocol(protocol) ||
         isOneOf(protocol, {"tcp", "udp", "mongo", "redis", "mysql"});
}

bool isHttpProtocol(std::string_view protocol) {
  return isOneOf(protocol, {"http", "http2", "http_proxy", "grpc", "grpc-web"});
}

bool isTlsProtocol(std::string_view protocol) {
  return isOneOf(protocol, {"https", "tls"});
}

std::string inQuotes(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::string formatNumber(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", value);
  return buf;
}

std::optional<int64_t> durationNanos(std::string_view text) {
  return cel::parseDuration(text);
}

Check checkDuration(std::string_view text) {
  auto nanos = durationNanos(text);
  if (!nanos) return Problem{"invalid duration", "a duration such as 500ms, 1s, 1m or 1h"};
  if (*nanos < kMillisecond) return Problem{"duration too short", "at least 1ms"};
  return checkDurationPrecision(text);
}

Check checkDurationPrecision(std::string_view text) {
  auto nanos = durationNanos(text);
  if (nanos && *nanos % kMillisecond != 0) {
    return Problem{"duration finer than milliseconds", "whole milliseconds"};
  }
  return std::nullopt;
}

}  // namespace halyard::config
