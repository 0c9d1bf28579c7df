#include "config/model/host_name.h"

namespace halyard::config::model {

namespace {

bool isWildcard(std::string_view host) {
  return !host.empty() && host.front() == '*';
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

std::string resolveShortName(std::string_view host, std::string_view namespace_,
                             std::string_view domain) {
  if (host.empty() || host == "*" || host.find('.') != std::string_view::npos ||
      host.find(':') != std::string_view::npos) {
    return std::string(host);
  }
  std::string out(host);
  out.append(".").append(namespace_).append(".svc.").append(domain);
  return out;
}

bool hostMatches(std::string_view a, std::string_view b) {
  // Dropping the "*" leaves the suffix a wildcard requires ("" for a bare "*").
  if (isWildcard(a)) {
    if (isWildcard(b))
      return endsWith(a.substr(1), b.substr(1)) || endsWith(b.substr(1), a.substr(1));
    return endsWith(b, a.substr(1));
  }
  if (isWildcard(b)) return endsWith(a, b.substr(1));
  return a == b;
}

bool hostSubsetOf(std::string_view a, std::string_view b) {
  if (isWildcard(a)) return isWildcard(b) && endsWith(a.substr(1), b.substr(1));
  if (isWildcard(b)) return endsWith(a, b.substr(1));
  return a == b;
}

std::string resolveGatewayName(std::string_view ref, std::string_view vs_namespace) {
  if (ref == "mesh") return std::string(ref);
  if (auto slash = ref.find('/'); slash != std::string_view::npos) {
    std::string_view ns = ref.substr(0, slash);
    return std::string(ns == "." ? vs_namespace : ns) + "/" + std::string(ref.substr(slash + 1));
  }
  auto dot = ref.find('.');
  if (dot == std::string_view::npos) return std::string(vs_namespace) + "/" + std::string(ref);
  // Legacy form "name.ns[.svc.cluster.local]": the second label is the namespace.
  std::string_view rest = ref.substr(dot + 1);
  std::string_view ns = rest.substr(0, rest.find('.'));
  return std::string(ns) + "/" + std::string(ref.substr(0, dot));
}

NamespacedHost parseNamespacedHost(std::string_view entry, std::string_view own_namespace) {
  auto slash = entry.find('/');
  if (slash == std::string_view::npos) return NamespacedHost{"*", std::string(entry)};
  std::string_view ns = entry.substr(0, slash);
  return NamespacedHost{std::string(ns == "." ? own_namespace : ns),
                        std::string(entry.substr(slash + 1))};
}

bool isVisible(const std::vector<std::string>& export_to, std::string_view from_namespace,
               std::string_view to_namespace) {
  if (export_to.empty()) return true;
  for (const std::string& entry : export_to) {
    if (entry == "*") return true;
    if (entry == "." && from_namespace == to_namespace) return true;
    if (entry == to_namespace) return true;
  }
  return false;
}

bool selectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

std::string selectorText(const std::map<std::string, std::string>& labels) {
  std::string text;
  for (const auto& [key, value] : labels) {
    if (!text.empty()) text += ",";
    text += key + "=" + value;
  }
  return text;
}

}  // namespace halyard::config::model
