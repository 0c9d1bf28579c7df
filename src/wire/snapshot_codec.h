// translate::Snapshot <-> the halyard.v1 resources of the control-plane protocol
// (api/halyard/v1/discovery.proto, docs/control-protocol.md). The control plane encodes the
// snapshot it translated; the proxy decodes what it receives. Decoding checks everything the
// proxy relies on (ports in range, known enum values, regexes that compile, an action on every
// route), so a bad push is NACKed with a sentence instead of served.
//
// Every field of snapshot.h has its counterpart here: a field added there must be added to the
// proto, encode*() and decode*() (codec_test.cc round-trips a snapshot with every field set).
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "translate/snapshot.h"
#include "wire/protocol.h"

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

// The key of a virtual host resource: "<listener>/<name>".
std::string virtualHostKey(std::string_view listener, std::string_view name);

// Splits a snapshot into its resources: listeners (naming their virtual hosts in order), virtual
// hosts, and clusters sorted by name (so equal snapshots encode to equal bytes).
v1::Resources encodeResources(const translate::Snapshot& snapshot);

v1::Listener encodeListener(const translate::Listener& listener);
v1::VirtualHost encodeVirtualHost(std::string_view listener, const translate::VirtualHost& vhost);
v1::Cluster encodeCluster(const translate::Cluster& cluster);

// The proxy's table of peer workloads (translate::PeerWorkloads) travels as one resource per row,
// keyed "<namespace>/<service account>" (a namespace has no '/'), beside the listeners that use
// it (v1::Listener::shares_peer_workloads) instead of inside each of them.
std::string peerWorkloadKey(std::string_view namespace_, std::string_view service_account);
v1::PeerWorkload encodePeerWorkload(const translate::PeerWorkload& w);
translate::PeerWorkload decodePeerWorkload(const v1::PeerWorkload& p);
// The table the snapshot's listeners use (one per snapshot; null: none does).
const translate::PeerWorkloads* snapshotPeerWorkloads(const translate::Snapshot& snapshot);

// Clears every inline PEM (certificates and private keys decoded from Secrets), keeping each
// source's origin: what is shown outside the proxy (proxy-config) never carries key material.
void redactInlinePem(v1::Resources& resources);

// Each decoder names the resource and the field it rejects.
common::Expected<translate::VirtualHost> decodeVirtualHost(const v1::VirtualHost& in);
common::Expected<translate::Cluster> decodeCluster(const v1::Cluster& in);
// The listener without its route table (the assembler fills it from the virtual hosts).
common::Expected<translate::Listener> decodeListener(const v1::Listener& in);

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
