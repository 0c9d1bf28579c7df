#include "telemetry/peer_identity.h"

namespace halyard::telemetry {

std::string formatPeerIdentity(const PeerIdentity& peer) {
  std::string out;
  out.append("workload=").append(peer.workload);
  out.append(";app=").append(peer.app);
  out.append(";version=").append(peer.version);
  if (!peer.revision.empty()) out.append(";revision=").append(peer.revision);
  // Mostly the app: left out then, to keep the header (sent with every request) short.
  if (!peer.canonical_service.empty() && peer.canonical_service != peer.app) {
    out.append(";service=").append(peer.canonical_service);
  }
  return out;
}

bool parsePeerIdentity(std::string_view value, PeerIdentity& out) {
  PeerIdentity parsed;
  while (!value.empty()) {
    const size_t semi = value.find(';');
    std::string_view item = value.substr(0, semi);
    value = semi == std::string_view::npos ? std::string_view() : value.substr(semi + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    const std::string_view key = item.substr(0, eq);
    const std::string_view v = item.substr(eq + 1);
    if (key == "workload") {
      parsed.workload = v;
    } else if (key == "app") {
      parsed.app = v;
    } else if (key == "version") {
      parsed.version = v;
    } else if (key == "revision") {
      parsed.revision = v;
    } else if (key == "service") {
      parsed.canonical_service = v;
    }
  }
  if (parsed.canonical_service.empty()) parsed.canonical_service = parsed.app;
  out = parsed;
  return true;
}

bool parseSpiffeId(std::string_view id, std::string_view& trust_domain,
                   std::string_view& namespace_, std::string_view& service_account) {
  constexpr std::string_view kScheme = "spiffe://";
  if (!id.starts_with(kScheme)) return false;
  id.remove_prefix(kScheme.size());
  const size_t slash = id.find('/');
  if (slash == 0 || slash == std::string_view::npos) return false;
  const std::string_view domain = id.substr(0, slash);
  std::string_view path = id.substr(slash);
  if (!path.starts_with("/ns/")) return false;
  path.remove_prefix(4);
  const size_t sa = path.find("/sa/");
  if (sa == 0 || sa == std::string_view::npos) return false;
  const std::string_view ns = path.substr(0, sa);
  const std::string_view account = path.substr(sa + 4);
  if (account.empty() || account.find('/') != std::string_view::npos ||
      ns.find('/') != std::string_view::npos) {
    return false;
  }
  trust_domain = domain;
  namespace_ = ns;
  service_account = account;
  return true;
}

void formatPrincipal(std::string& out, std::string_view namespace_,
                     std::string_view service_account) {
  out.clear();
  if (service_account.empty()) return;
  out.append("spiffe://cluster.local/ns/")
      .append(namespace_)
      .append("/sa/")
      .append(service_account);
}

}  // namespace halyard::telemetry
