// What a proxy's hello says, and which proxies share one translation.
//
// translate::buildSnapshot reads only the ProxyIdentity it is given, so proxies with equal
// identities get equal snapshots: they form one class, translated once per generation however
// many proxies it has. A gateway's snapshot depends on its role, namespace and labels (the
// Gateways it selects), so a fleet of gateway replicas is one class. A sidecar's depends on
// nearly everything its hello says (its name is on its inbound endpoint, its address and ports
// are its listeners), so each sidecar is usually a class of its own; but the expensive part of
// it, the outbound listeners and clusters, reads only its namespace and a few of its labels, and
// is translated once for all the sidecars that agree on those (sidecarOutboundIdentity).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "common/error.h"
#include "control/push/proxy_session.h"
#include "halyard/v1/discovery.pb.h"
#include "translate/translate.h"

namespace halyard::control {

// The session a hello asks for (defaults applied), or why the hello is refused: no name, an
// unknown role, a port out of range, a sidecar whose listener ports clash with each other or
// with its app's ports, a registered address that is not an IP address.
common::Expected<ProxyInfo> proxyInfoFromHello(const v1::ProxyHello& hello, uint64_t stream_id,
                                               std::string peer);

// What translation is told about the proxy. A sidecar without an address binds 127.0.0.1.
translate::ProxyIdentity proxyIdentity(const ProxyInfo& info);

// Equal keys, equal identities (as far as buildSnapshot reads them for the role).
std::string proxyClassKey(const ProxyInfo& info);

// What a sidecar's outbound part is translated for: its namespace and those of its labels whose
// keys are in `label_keys` (translate::sidecarLabelKeys of the config); and its key, equal for
// sidecars that share one outbound translation.
translate::ProxyIdentity sidecarOutboundIdentity(const translate::ProxyIdentity& sidecar,
                                                 const std::set<std::string>& label_keys);
std::string sidecarOutboundKey(const translate::ProxyIdentity& outbound);

}  // namespace halyard::control
