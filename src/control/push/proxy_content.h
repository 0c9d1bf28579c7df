// What the proxies of one class (same role, namespace and labels) are sent for one config
// generation: their translated snapshot as protocol resources, each with a hash of its bytes, or
// the errors that kept translation from producing one. Immutable once built and shared by every
// session of the class; the push messages built from it are cached, so a thousand proxies moving
// from the same base to the same version share one message.
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

  static std::shared_ptr<const ProxyContent> fromSnapshot(const translate::Snapshot& snapshot);
  static std::shared_ptr<const ProxyContent> fromErrors(std::vector<std::string> errors);

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
  void finish();  // computes hash_

  Resources<v1::Listener> listeners_;
  Resources<v1::VirtualHost> virtual_hosts_;
  Resources<v1::Cluster> clusters_;
  std::vector<std::string> warnings_;
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
