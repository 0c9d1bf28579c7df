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
    next.peer_rows = current_.peer_rows;
    next.peer_table = current_.peer_table;
    next.warnings = current_.warnings;
    for (const auto& key : push.removed_listeners()) next.listeners.erase(key);
    for (const auto& key : push.removed_virtual_hosts()) next.virtual_hosts.erase(key);
    for (const auto& key : push.removed_clusters()) next.clusters.erase(key);
    for (const auto& key : push.removed_peer_workloads()) {
      const size_t slash = key.find('/');
      if (slash == std::string::npos) {
        return fail(ErrorKind::kProtocol,
                    "removed peer workload \"" + key + "\" is not <namespace>/<service account>");
      }
      next.peer_rows.erase(std::pair(key.substr(0, slash), key.substr(slash + 1)));
    }
  }
  const bool peers_changed = push.base_version() == 0 || push.removed_peer_workloads_size() > 0 ||
                             push.resources().peer_workloads_size() > 0;
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
  for (const auto& in : resources.peer_workloads()) {
    if (in.namespace_().empty() || in.service_account().empty() ||
        in.namespace_().find('/') != std::string::npos) {
      return fail(ErrorKind::kProtocol, "peer workload \"" + in.namespace_() + "/" +
                                            in.service_account() +
                                            "\" needs a namespace (without '/') and a service "
                                            "account");
    }
    next.peer_rows[std::pair(in.namespace_(), in.service_account())] = decodePeerWorkload(in);
  }
  if (peers_changed) {
    // The map's order is the table's: by namespace, then service account.
    std::shared_ptr<translate::PeerWorkloads> table;
    if (!next.peer_rows.empty()) {
      table = std::make_shared<translate::PeerWorkloads>();
      table->reserve(next.peer_rows.size());
      for (const auto& [key, row] : next.peer_rows) table->push_back(row);
    }
    next.peer_table = std::move(table);
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
    if (in.shares_peer_workloads()) listener->peer_workloads = next.peer_table;
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
