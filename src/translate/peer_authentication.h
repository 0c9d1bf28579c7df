// PeerAuthentication's effective mutual TLS mode for a workload and port (istio-semantics.md §7,
// Istio's ComposePeerAuthentication): start from PERMISSIVE, then apply the mesh policy (no
// selector, root namespace), the namespace policy (no selector, the workload's namespace) and the
// workload policy (a selector matching the workload's labels, its namespace), each only when its
// mode is not UNSET; the oldest policy of a level is the one that counts. A selector policy in
// the root namespace is ignored. portLevelMtls (on selector policies only) overrides the mode
// for a workload port; an UNSET port entry keeps the workload's mode. Built once per config.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/model/config_set.h"
#include "translate/snapshot.h"

namespace halyard::translate {

class PeerAuthenticationIndex {
 public:
  PeerAuthenticationIndex(const config::model::ConfigSet& config, std::string root_namespace);

  // The mode for the workload (`namespace_`, `labels`) on its workload (container) `port`, and
  // which policy decided it: "PeerAuthentication shop/strict-web (workload, port 8080)",
  // "PeerAuthentication istio-system/default (mesh)", "default (no PeerAuthentication applies)".
  InboundMtls effective(std::string_view namespace_,
                        const std::map<std::string, std::string>& labels, uint16_t port) const;

 private:
  // Each namespace's policies, oldest first (Istio's configuration order).
  std::map<std::string, std::vector<const config::model::PeerAuthentication*>, std::less<>>
      by_namespace_;
  std::string root_namespace_;
};

}  // namespace halyard::translate
