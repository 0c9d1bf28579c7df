#include "proxy/upstream/hash_key.h"

#include <cinttypes>
#include <cstdio>

#include "proxy/upstream/hash_ring.h"

namespace halyard::proxy::upstream {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string_view> findCookie(const http::RequestView& request,
                                           std::string_view name) {
  for (const auto& h : request.headers) {
    if (h.name != "cookie") continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      const std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
      std::string_view value = trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> findQueryParameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return std::nullopt;
}

RequestHash requestHash(const translate::HashPolicy& policy, const http::RequestView& request,
                        std::string_view source_ip, std::string_view connection_id) {
  RequestHash out;
  switch (policy.key) {
    case translate::HashPolicy::Key::kHeader:
      if (const auto v = request.header(policy.name)) out.hash = hashKey(*v);
      break;
    case translate::HashPolicy::Key::kSourceIp:
      if (!source_ip.empty()) out.hash = hashKey(source_ip);
      break;
    case translate::HashPolicy::Key::kQueryParameter:
      if (const auto v = findQueryParameter(request.query(), policy.name)) out.hash = hashKey(*v);
      break;
    case translate::HashPolicy::Key::kCookie: {
      if (const auto v = findCookie(request, policy.name)) {
        out.hash = hashKey(*v);
        break;
      }
      if (policy.cookie_ttl.count() < 0) break;
      char value[17];
      std::snprintf(value, sizeof(value), "%016" PRIx64, hashKey(connection_id));
      out.hash = hashKey(value);
      // Envoy's form: the value quoted, Max-Age when the ttl is not zero, HttpOnly always.
      out.set_cookie = policy.name + "=\"" + value + "\"";
      if (policy.cookie_ttl.count() > 0) {
        const auto seconds = std::max<int64_t>(1, (policy.cookie_ttl.count() + 999) / 1000);
        out.set_cookie += "; Max-Age=" + std::to_string(seconds);
      }
      if (!policy.cookie_path.empty()) out.set_cookie += "; Path=" + policy.cookie_path;
      for (const auto& [n, v] : policy.cookie_attributes) {
        out.set_cookie += "; " + n;
        if (!v.empty()) out.set_cookie += "=" + v;
      }
      out.set_cookie += "; HttpOnly";
      break;
    }
  }
  return out;
}

}  // namespace halyard::proxy::upstream
