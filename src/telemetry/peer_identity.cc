#include "telemetry/peer_identity.h"

namespace halyard::telemetry {

std::string formatPeerIdentity(const PeerIdentity& peer) {
  std::string out;
  out.append("workload=").append(peer.workload);
  out.append(";namespace=").append(peer.namespace_);
  out.append(";app=").append(peer.app);
  out.append(";version=").append(peer.version);
  out.append(";sa=").append(peer.service_account);
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
    } else if (key == "namespace") {
      parsed.namespace_ = v;
    } else if (key == "app") {
      parsed.app = v;
    } else if (key == "version") {
      parsed.version = v;
    } else if (key == "sa") {
      parsed.service_account = v;
    }
  }
  out = parsed;
  return true;
}

void formatPrincipal(std::string& out, std::string_view namespace_,
                     std::string_view service_account) {
  out.clear();
  if (service_account.empty()) return;
  out.append("spiffe://cluster.local/ns/").append(namespace_).append("/sa/").append(service_account);
}

}  // namespace halyard::telemetry
