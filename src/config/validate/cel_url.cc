#include "config/validate/cel_url.h"

#include <algorithm>

#include "common/hex.h"

namespace halyard::config::cel {

namespace {

using UrlResult = common::Result<std::string, std::string>;

// What a %-escape or a plain byte may be in each part of the URL.
enum class Part { kHost, kZone, kUserInfo, kPath };

using common::hexValue;

bool isAlnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Bytes that may appear unescaped in a host (RFC 3986 sub-delims, unreserved, ':' and brackets,
// plus '<', '>' and '"' which Go tolerates). Non-ASCII bytes are allowed too.
bool isHostByte(unsigned char c) {
  return c >= 0x80 || isAlnum(c) ||
         std::string_view("!$&'()*+,;=:[]<>\"-_.~").find(static_cast<char>(c)) !=
             std::string_view::npos;
}

// Decodes %XX escapes, rejecting malformed ones and bytes the part does not allow.
UrlResult unescape(std::string_view s, Part part) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '%') {
      int hi = i + 2 < s.size() ? hexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return common::unexpected(std::string("invalid URL escape"));
      auto decoded = static_cast<unsigned char>(hi * 16 + lo);
      bool is_percent = decoded == '%';
      // A host may only escape non-ASCII bytes ("%25" starts an IPv6 zone); a zone may escape
      // anything that would be a valid host byte or a space.
      if (part == Part::kHost && decoded < 0x80 && !is_percent) {
        return common::unexpected(std::string("invalid URL escape in host"));
      }
      if (part == Part::kZone && !is_percent && decoded != ' ' && !isHostByte(decoded)) {
        return common::unexpected(std::string("invalid URL escape in host"));
      }
      out.push_back(static_cast<char>(decoded));
      i += 2;
      continue;
    }
    if ((part == Part::kHost || part == Part::kZone) && !isHostByte(c)) {
      return common::unexpected(std::string("invalid character in host name"));
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

// "" or ':' followed by digits only.
bool isOptionalPort(std::string_view s) {
  if (s.empty()) return true;
  return s[0] == ':' &&
         std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

UrlResult parseHost(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    size_t close = host.rfind(']');
    if (close == std::string_view::npos)
      return common::unexpected(std::string("missing ']' in host"));
    if (!isOptionalPort(host.substr(close + 1))) {
      return common::unexpected(std::string("invalid port after host"));
    }
    size_t zone = host.substr(0, close).find("%25");
    if (zone != std::string_view::npos) {
      auto address = unescape(host.substr(0, zone), Part::kHost);
      auto zone_id = unescape(host.substr(zone, close - zone), Part::kZone);
      auto rest = unescape(host.substr(close), Part::kHost);
      if (!address) return address;
      if (!zone_id) return zone_id;
      if (!rest) return rest;
      return *address + *zone_id + *rest;
    }
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    if (!isOptionalPort(host.substr(colon))) {
      return common::unexpected(std::string("invalid port after host"));
    }
  }
  return unescape(host, Part::kHost);
}

UrlResult parseAuthority(std::string_view authority) {
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return parseHost(authority);
  std::string_view user_info = authority.substr(0, at);
  for (char c : user_info) {
    if (!isAlnum(static_cast<unsigned char>(c)) &&
        std::string_view("-._:~!$&'()*+,;=%@").find(c) == std::string_view::npos) {
      return common::unexpected(std::string("invalid userinfo"));
    }
  }
  if (auto decoded = unescape(user_info, Part::kUserInfo); !decoded) return decoded;
  return parseHost(authority.substr(at + 1));
}

}  // namespace

common::Result<Url, std::string> parseRequestUri(std::string_view text) {
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return common::unexpected(std::string("invalid control character in URL"));
  }
  if (text.empty()) return common::unexpected(std::string("empty url"));
  if (text == "*") return Url{};
  Url url;
  std::string_view rest = text;
  // A scheme is a letter followed by letters, digits, '+', '-' or '.', ending at the first ':'.
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (isAlnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.') {
      if (i == 0 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) return common::unexpected(std::string("missing protocol scheme"));
      url.scheme = std::string(text.substr(0, i));
      std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(), [](char ch) {
        return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
      });
      rest = text.substr(i + 1);
    }
    break;
  }
  if (!rest.empty() && rest.back() == '?' && std::count(rest.begin(), rest.end(), '?') == 1) {
    rest.remove_suffix(1);
  } else {
    rest = rest.substr(0, rest.find('?'));
  }
  if (rest.empty() || rest[0] != '/') {
    if (!url.scheme.empty()) return url;  // opaque: "mailto:someone"
    return common::unexpected(std::string("invalid URI for request"));
  }
  if (!url.scheme.empty() && rest.substr(0, 2) == "//") {
    std::string_view authority = rest.substr(2);
    size_t slash = authority.find('/');
    rest = slash == std::string_view::npos ? std::string_view() : authority.substr(slash);
    auto host = parseAuthority(authority.substr(0, slash));
    if (!host) return common::unexpected(host.error());
    url.host = std::move(*host);
  }
  if (auto path = unescape(rest, Part::kPath); !path) return common::unexpected(path.error());
  return url;
}

std::string_view urlHostname(const Url& url) {
  std::string_view host = url.host;
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && isOptionalPort(host.substr(colon)))
    host = host.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

std::string_view urlPort(const Url& url) {
  std::string_view host = url.host;
  size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || !isOptionalPort(host.substr(colon))) return {};
  return host.substr(colon + 1);
}

}  // namespace halyard::config::cel
