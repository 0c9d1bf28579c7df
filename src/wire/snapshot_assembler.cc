#include "wire/snapshot_assembler.h"

#include "wire/snapshot_codec.h"

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

using common::ErrorKind;
using common::fail;

common::Expected<SnapshotAssembler::Assembled> SnapshotAssembler::assemble(
    const v1::SnapshotPush& push) const {
  if (push.version() <= current_.version) {
    return fail(ErrorKind::kProtocol, "version " + std::to_string(push.version()) +
                                          " is not newer than the served version " +
                                          std::to_string(current_.version));
  }
  Assembled next;
  next.version = push.version();
  if (push.base_version() != 0) {
    if (push.base_version() != current_.version || !current_.snapshot) {
      return fail(ErrorKind::kProtocol,
                  "delta on top of version " + std::to_string(push.base_version()) +
                      ", but this proxy serves version " + std::to_string(current_.version));
    }
    // Unchanged resources are shared with the current state, not decoded again.
    next.listeners = current_.listeners;
    next.virtual_hosts = current_.virtual_hosts;
    next.clusters = current_.clusters;
    next.warnings = current_.warnings;
    for (const auto& key : push.removed_listeners()) next.listeners.erase(key);
    for (const auto& key : push.removed_virtual_hosts()) next.virtual_hosts.erase(key);
    for (const auto& key : push.removed_clusters()) next.clusters.erase(key);
  }
  if (push.has_warnings()) {
    next.warnings.assign(push.warnings().items().begin(), push.warnings().items().end());
  }

  const auto& resources = push.resources();
  for (const auto& l : resources.listeners()) next.listeners[l.name()] = l;
  for (const auto& in : resources.virtual_hosts()) {
    auto vh = decodeVirtualHost(in);
    if (!vh) return common::unexpected(vh.error());
    next.virtual_hosts[virtualHostKey(in.listener(), in.name())] =
        std::make_shared<const translate::VirtualHost>(std::move(*vh));
  }
  for (const auto& in : resources.clusters()) {
    auto c = decodeCluster(in);
    if (!c) return common::unexpected(c.error());
    next.clusters[in.name()] = std::make_shared<const translate::Cluster>(std::move(*c));
  }

  auto snapshot = std::make_shared<translate::Snapshot>();
  snapshot->version = next.version;
  for (const auto& [name, in] : next.listeners) {
    auto listener = decodeListener(in);
    if (!listener) return common::unexpected(listener.error());
    auto table = std::make_shared<translate::RouteTable>();
    for (const auto& vh_name : in.virtual_hosts()) {
      auto it = next.virtual_hosts.find(virtualHostKey(name, vh_name));
      if (it == next.virtual_hosts.end()) {
        return fail(ErrorKind::kProtocol,
                    "listener " + name + " names virtual host " + vh_name + ", which was not sent");
      }
      table->virtual_hosts.push_back(*it->second);
    }
    listener->routes = std::move(table);
    snapshot->listeners.push_back(std::move(*listener));
  }
  for (const auto& [name, c] : next.clusters) snapshot->clusters.emplace(name, *c);
  snapshot->warnings = next.warnings;
  next.snapshot = std::move(snapshot);
  return next;
}

void SnapshotAssembler::commit(Assembled assembled) {
  current_ = std::move(assembled);
}

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
