// What the proxies of one class (same role, namespace and labels) are sent for one config
// generation: their translated snapshot as protocol resources, each with a hash of its bytes, or
// the errors that kept translation from producing one. Immutable once built and shared by every
// session of the class; the push messages built from it are cached, so a thousand proxies moving
// from the same base to the same version share one message.
//
// A sidecar's content is a shared part (its outbound listeners and clusters, encoded and hashed
// once for every sidecar whose outbound translation is equal) plus its own few resources. The
// two never hold the same key: a sidecar's own resources are its virtualInbound and
// virtualOutbound listeners and its inbound|... cluster, names the outbound part never uses.
// A sidecar whose inbound listener proxies TCP adds a third part, shared by all such sidecars of
// a generation: the table of peer workloads, one resource per row, so that the table is encoded
// once per generation and a change of one workload moves one row to each sidecar.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "halyard/v1/discovery.pb.h"
#include "translate/snapshot.h"

namespace halyard::control {

class ProxyContent {
 public:
  template <class T>
  struct Resource {
    T message;
    uint64_t hash = 0;  // of the message's deterministic serialization
  };
  template <class T>
  using Resources = std::map<std::string, Resource<T>>;  // by key (docs/control-protocol.md)

  // Encoded resources with a hash over all of them.
  struct Part {
    Resources<v1::Listener> listeners;
    Resources<v1::VirtualHost> virtual_hosts;
    Resources<v1::Cluster> clusters;
    Resources<v1::PeerWorkload> peer_workloads;
    std::vector<std::string> warnings;
    uint64_t hash = 0;
  };
  // A part shared by many contents, with the deltas between it and earlier shared parts cached.
  class Shared;

  static std::shared_ptr<const ProxyContent> fromSnapshot(const translate::Snapshot& snapshot);
  static std::shared_ptr<const ProxyContent> fromErrors(std::vector<std::string> errors);
  // Encodes a snapshot part once, for withShared.
  static std::shared_ptr<const Shared> share(const translate::Snapshot& snapshot);
  // A table of peer workloads encoded once, for withShared.
  static std::shared_ptr<const Shared> sharePeers(const translate::PeerWorkloads& table);
  // `shared` plus `own` (encoded here) plus `peers` when a listener of `own` uses a peer table
  // (it must be that table's sharePeers). Its messages are not cached: such a content serves one
  // proxy.
  static std::shared_ptr<const ProxyContent> withShared(std::shared_ptr<const Shared> shared,
                                                        const translate::Snapshot& own,
                                                        std::shared_ptr<const Shared> peers = {});

  // Same hash, same content (versions are not part of it).
  const std::string& hash() const { return hash_; }
  bool failed() const { return !errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // The message that moves a proxy serving `base` at `base_version` to this content at
  // `version`: a whole SnapshotPush when base is null, a delta otherwise, or a ConfigError when
  // this content failed.
  std::shared_ptr<const v1::ControlMessage> message(const ProxyContent* base, uint64_t base_version,
                                                    uint64_t version) const;

  // Everything, for proxy-config.
  v1::Resources resources() const;

 private:
  ProxyContent() = default;
  void finish();  // computes hash_ and warnings_
  std::shared_ptr<const v1::ControlMessage> build(const ProxyContent* base, uint64_t base_version,
                                                  uint64_t version) const;

  std::shared_ptr<const Shared> shared_;  // null unless built withShared
  std::shared_ptr<const Shared> peers_;   // the peer table's part, when withShared uses one
  Part own_;
  std::vector<std::string> warnings_;  // the shared part's, then the own part's
  std::vector<std::string> errors_;
  std::string hash_;

  // (base hash, base version, version) -> message. A base is named by its hash, not held, so a
  // cache never keeps older contents alive.
  mutable std::mutex cache_mu_;
  mutable std::map<std::tuple<std::string, uint64_t, uint64_t>,
                   std::shared_ptr<const v1::ControlMessage>>
      cache_;
};

}  // namespace halyard::control
