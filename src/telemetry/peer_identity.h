// Who sent a request through the mesh. The identity — namespace, service account, SPIFFE ID —
// comes only from the client certificate of a mutual TLS connection (parseSpiffeId); nothing a
// request says can claim one.
//
// What a certificate does not carry, the calling workload's name, app and version for the
// source_* metric labels, travels beside it in the x-halyard-peer-metadata request header (as
// Istio's sidecars exchange x-envoy-peer-metadata): a gateway or outbound listener sets it on
// every request it forwards (replacing whatever the client sent), and the receiving inbound
// listener removes it and reads it only when the connection is mutual TLS, so it is telemetry,
// never identity. The retired x-halyard-peer header is dropped wherever it appears.
//
// Format: "workload=<name>;app=<app>;version=<version>;revision=<canonical revision>;
// service=<canonical service>" (service left out when it is the app). Values are
// Kubernetes names and label values, which contain neither ';' nor '='. A receiver ignores keys it
// does not know, so an older proxy reads a newer one's header (without the revision).
#pragma once

#include <string>
#include <string_view>

namespace halyard::telemetry {

inline constexpr std::string_view kPeerHeader = "x-halyard-peer-metadata";
inline constexpr std::string_view kRetiredPeerHeader = "x-halyard-peer";

struct PeerIdentity {
  std::string_view workload;
  std::string_view namespace_;  // from the certificate's SPIFFE ID
  std::string_view app;
  std::string_view version;
  std::string_view revision;  // canonical revision; empty: unknown (the metrics say "latest")
  std::string_view service_account;  // from the certificate's SPIFFE ID; empty: none
  // Canonical service; empty: unknown (the app stands for it).
  std::string_view canonical_service{};
};

// The header value (workload, app, version, revision and canonical service), computed once at
// startup.
std::string formatPeerIdentity(const PeerIdentity& peer);

// Views into `value`: workload, app, version, revision and canonical service (`service`; absent:
// the app, as a header that leaves it out means). Other keys (an older proxy's namespace
// and sa among them) are ignored: identity never comes from a header. False (and `out` untouched)
// when an item is not key=value.
bool parsePeerIdentity(std::string_view value, PeerIdentity& out);

// "spiffe://<trust domain>/ns/<namespace>/sa/<service account>" into views of `id`; false when
// it is not of that form.
bool parseSpiffeId(std::string_view id, std::string_view& trust_domain,
                   std::string_view& namespace_, std::string_view& service_account);

// Istio's principal for a service account, into `out` (replaced; its capacity is reused):
// "spiffe://cluster.local/ns/<ns>/sa/<sa>". Empty when `service_account` is.
void formatPrincipal(std::string& out, std::string_view namespace_,
                     std::string_view service_account);

}  // namespace halyard::telemetry
