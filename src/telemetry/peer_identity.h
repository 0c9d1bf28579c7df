// The x-halyard-peer request header: who sent a request through the mesh. A proxy adds it to
// every request it forwards from a gateway or outbound listener (replacing whatever the client
// sent); the receiving sidecar's inbound listener removes it and labels its metrics' source_*
// with it. It is not authenticated: until mTLS lands, any client that reaches an inbound
// listener directly can claim any identity.
//
// Format: "workload=<name>;namespace=<ns>;app=<app>;version=<version>;sa=<service account>".
// Values are Kubernetes names and label values, which contain neither ';' nor '='.
#pragma once

#include <string>
#include <string_view>

namespace halyard::telemetry {

inline constexpr std::string_view kPeerHeader = "x-halyard-peer";

struct PeerIdentity {
  std::string_view workload;
  std::string_view namespace_;
  std::string_view app;
  std::string_view version;
  std::string_view service_account;  // empty: none
};

// The header value, computed once at startup.
std::string formatPeerIdentity(const PeerIdentity& peer);

// Views into `value`; unknown keys are skipped, missing ones stay empty. False (and `out`
// untouched) when an item is not key=value.
bool parsePeerIdentity(std::string_view value, PeerIdentity& out);

// Istio's principal for a service account, into `out` (replaced; its capacity is reused):
// "spiffe://cluster.local/ns/<ns>/sa/<sa>". Empty when `service_account` is.
void formatPrincipal(std::string& out, std::string_view namespace_,
                     std::string_view service_account);

}  // namespace halyard::telemetry
